// The drawing page: posts the canvas (or a dropped file) to POST /predict?debug=1 and shows the answer,
// a bar per class and the 28×28 image the model saw.
interface Answer { digit: number; probability: number; probabilities: number[]; input28: number[] }
interface ErrorBody { error?: { code: string; message: string } }

const pad = document.getElementById('pad') as HTMLCanvasElement;
const ctx = pad.getContext('2d')!;
const seen = (document.getElementById('seen') as HTMLCanvasElement).getContext('2d')!;
const digitEl = document.getElementById('digit')!;
const probEl = document.getElementById('prob')!;
const errorEl = document.getElementById('error')!;
const bars = document.getElementById('bars')!;
const drop = document.getElementById('drop')!;
const fileInput = document.getElementById('file') as HTMLInputElement;

const BRUSH = 22; // px in canvas units: MNIST strokes are ~2-3 px of 28, i.e. ~22 of 280
const DEBOUNCE_MS = 150;
let drawing = false;
let dirty = false;
let timer: number | undefined;
let requestNo = 0;

for (let d = 0; d < 10; d++) {
  const li = document.createElement('li');
  li.innerHTML = `<span>${d}</span><span class="bar"><span style="width:0%"></span></span><span class="pct">0%</span>`;
  bars.appendChild(li);
}

function showError(message: string | null): void {
  errorEl.hidden = message === null;
  errorEl.textContent = message ?? '';
}

/**
 * No guess, no bars: nothing on the page (an empty or cleared canvas, a blank photo), or a mark that the
 * model's digit score does not take for a digit (a letter, a symbol, a drawing).
 */
function showNoDigit(why: 'no digit found' | 'not a digit'): void {
  showError(null);
  digitEl.textContent = '–';
  probEl.textContent = why;
  Array.from(bars.children).forEach((li) => {
    (li.querySelector('.bar span') as HTMLElement).style.width = '0%';
    li.querySelector('.pct')!.textContent = '0%';
    li.classList.remove('top');
  });
  seen.clearRect(0, 0, 28, 28);
}

function show(a: Answer): void {
  showError(null);
  digitEl.textContent = String(a.digit);
  probEl.textContent = `${(a.probability * 100).toFixed(1)}%`;
  Array.from(bars.children).forEach((li, d) => {
    const p = a.probabilities[d];
    (li.querySelector('.bar span') as HTMLElement).style.width = `${(p * 100).toFixed(1)}%`;
    li.querySelector('.pct')!.textContent = `${(p * 100).toFixed(1)}%`;
    li.classList.toggle('top', d === a.digit);
  });
  const img = seen.createImageData(28, 28);
  a.input28.forEach((v, i) => { const g = Math.round(v * 255); img.data.set([g, g, g, 255], i * 4); });
  seen.putImageData(img, 0, 0);
}

async function predict(body: Blob): Promise<void> {
  const mine = ++requestNo;
  try {
    const res = await fetch('/predict?debug=1', { method: 'POST', body, headers: { 'content-type': body.type || 'application/octet-stream' } });
    const json = (await res.json()) as Answer & ErrorBody;
    if (mine !== requestNo) return; // a newer drawing is on its way
    // The server's message says which of the two IMAGE_NO_DIGIT answers this is.
    if (json.error?.code === 'IMAGE_NO_DIGIT') showNoDigit(/not a digit/.test(json.error.message) ? 'not a digit' : 'no digit found');
    else if (!res.ok) showError(json.error ? `${json.error.message} (${json.error.code})` : `The server answered ${res.status}.`);
    else show(json);
  } catch {
    if (mine === requestNo) showError('The server cannot be reached. Is it running?');
  }
}

function schedule(): void {
  window.clearTimeout(timer);
  timer = window.setTimeout(() => { if (dirty) pad.toBlob((b) => { if (b) void predict(b); }, 'image/png'); }, DEBOUNCE_MS);
}

function point(e: PointerEvent): [number, number] {
  const r = pad.getBoundingClientRect();
  return [((e.clientX - r.left) / r.width) * pad.width, ((e.clientY - r.top) / r.height) * pad.height];
}

pad.addEventListener('pointerdown', (e) => {
  drawing = true;
  pad.setPointerCapture(e.pointerId);
  const [x, y] = point(e);
  ctx.beginPath();
  ctx.moveTo(x, y);
  ctx.lineTo(x + 0.01, y);
  ctx.stroke();
  dirty = true;
});
pad.addEventListener('pointermove', (e) => {
  if (!drawing) return;
  const [x, y] = point(e);
  ctx.lineTo(x, y);
  ctx.stroke();
  schedule();
});
const end = () => { if (drawing) { drawing = false; schedule(); } };
pad.addEventListener('pointerup', end);
pad.addEventListener('pointercancel', end);

function clear(): void {
  ctx.clearRect(0, 0, pad.width, pad.height);
  dirty = false;
  requestNo++;
  digitEl.textContent = '–';
  probEl.textContent = '';
  showError(null);
}

function setupBrush(): void {
  ctx.lineWidth = BRUSH;
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  ctx.strokeStyle = '#111';
}

document.getElementById('clear')!.addEventListener('click', clear);
/** A picked or dropped file is answered on its own: the drawing is cleared, so the answer is not read as the drawing's. */
function predictFile(f: File): void {
  clear();
  void predict(f);
}

fileInput.addEventListener('change', () => { const f = fileInput.files?.[0]; if (f) predictFile(f); });
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  const f = e.dataTransfer?.files[0];
  if (f) predictFile(f);
});
drop.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); fileInput.click(); } });
setupBrush();
