import type { FileResult } from './predict-files';

export type OutputFormat = 'tsv' | 'json' | 'csv';

const csvField = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/** The first line of the output, if the format has one. */
export function formatHeader(format: OutputFormat): string | undefined {
  // The column keeps its name for the scripts that read it; it holds the number read (one digit or several).
  return format === 'csv' ? 'file,digit,probability,error' : undefined;
}

/**
 * One output line for one file: TSV `file<TAB>number<TAB>probability` (the number read: one digit, or
 * several; errors: `file<TAB>error<TAB>CODE: message`), a JSON object, or a CSV row.
 * @example formatResult(r, 'tsv') // 'examples/digit.png\t7\t0.9999'
 */
export function formatResult(r: FileResult, format: OutputFormat): string {
  const p = r.result?.prediction;
  switch (format) {
    case 'json':
      return JSON.stringify(p ? { file: r.path, digit: p.digit, probability: p.probability, probabilities: p.probabilities, digitScore: p.digitScore, isDigit: p.isDigit, number: p.number, digits: p.digits }
        : { file: r.path, error: { code: r.error!.code, message: r.error!.message } });
    case 'csv':
      return p ? `${csvField(r.path)},${p.number ?? p.digit},${p.probability.toFixed(6)},` : `${csvField(r.path)},,,${csvField(`${r.error!.code}: ${r.error!.message}`)}`;
    case 'tsv':
      return p ? `${r.path}\t${p.number ?? p.digit}\t${p.probability.toFixed(4)}` : `${r.path}\terror\t${r.error!.code}: ${r.error!.message}`;
  }
}
