// Part of `npm run build`: docs/openapi.yaml (the source, for people) becomes dist/openapi.json (what the
// server answers GET /openapi.json with), so the server needs no YAML parser at run time.
const { readFileSync, writeFileSync, mkdirSync } = require('node:fs');
const { join } = require('node:path');
const yaml = require('js-yaml');

const root = join(__dirname, '..');
const doc = yaml.load(readFileSync(join(root, 'docs', 'openapi.yaml'), 'utf8'));
doc.info.version = require(join(root, 'package.json')).version;
mkdirSync(join(root, 'dist'), { recursive: true });
writeFileSync(join(root, 'dist', 'openapi.json'), `${JSON.stringify(doc)}\n`);
