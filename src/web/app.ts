// The drawing page: posts the canvas (or a dropped, picked or photographed file) to POST /predict?debug=1
// and shows the number read, each digit's box over the picture, a bar per class for a single digit and
// the 28×28 image the model saw.
interface Box { x: number; y: number; width: number; height: number }
interface DigitRead { digit: number | null; probability: number; box: Box }
interface Answer { digit: number; probability: number; probabilities: number[]; number: string; digits: DigitRead[]; input28: number[] }
interface ErrorBody { error?: { code: string; message: string } }

const pad = document.getElementById('pad') as HTMLCanvasElement;
const ctx = pad.getContext('2d')!;
const overlay = (document.getElementById('boxes') as HTMLCanvasElement).getContext('2d')!;
const digitsEl = document.getElementById('digits')!;
const cameraInput = document.getElementById('camera') as HTMLInputElement;
const PAD_LABEL = pad.getAttribute('aria-label')!;
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
/** Where the sent picture's pixels are on the pad: a drawing is the pad itself, a file is fitted into it. */
let view = { scale: 1, dx: 0, dy: 0 };
/** A file is on the pad: the next stroke starts a new drawing. */
let showingFile = false;

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
  clearReading();
  digitEl.textContent = '–';
  probEl.textContent = why;
  Array.from(bars.children).forEach((li) => {
    (li.querySelector('.bar span') as HTMLElement).style.width = '0%';
    li.querySelector('.pct')!.textContent = '0%';
    li.classList.remove('top');
  });
  seen.clearRect(0, 0, 28, 28);
}

/** No boxes, no list of digits. */
function clearReading(): void {
  overlay.clearRect(0, 0, pad.width, pad.height);
  overlay.canvas.dataset.boxes = '0';
  digitsEl.replaceChildren();
  bars.hidden = false;
}

/** Each digit's box over the picture, with the digit above it; the list of digits when there are several. */
function showReading(a: Answer): void {
  clearReading();
  overlay.lineWidth = 3;
  overlay.font = 'bold 20px system-ui, sans-serif';
  for (const d of a.digits) {
    const x = view.dx + d.box.x * view.scale, y = view.dy + d.box.y * view.scale;
    overlay.strokeStyle = overlay.fillStyle = d.digit === null ? '#b00020' : '#0b8a3e';
    overlay.strokeRect(x, y, d.box.width * view.scale, d.box.height * view.scale);
    overlay.fillText(d.digit === null ? '?' : String(d.digit), x + 2, Math.max(18, y - 4));
  }
  overlay.canvas.dataset.boxes = String(a.digits.length);
  if (a.digits.length < 2) return;
  for (const d of a.digits) {
    const li = document.createElement('li');
    li.innerHTML = `<b>${d.digit === null ? '?' : d.digit}</b>${(d.probability * 100).toFixed(1)}%`;
    digitsEl.appendChild(li);
  }
}

function show(a: Answer): void {
  showError(null);
  digitEl.textContent = a.number;
  probEl.textContent = `${(a.probability * 100).toFixed(1)}%`;
  showReading(a);
  // The bars are one digit's: for a number, the list of digits above says it all.
  bars.hidden = a.digits.length > 1;
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
  if (showingFile) clear();
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
  clearReading();
  dirty = false;
  showingFile = false;
  view = { scale: 1, dx: 0, dy: 0 };
  pad.setAttribute('aria-label', PAD_LABEL);
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
/**
 * A picked, photographed or dropped file is answered on its own: the drawing gives way to the picture,
 * fitted into the pad, so the boxes can be drawn over it (a file the browser cannot show is still sent).
 */
async function predictFile(f: File): Promise<void> {
  clear();
  showingFile = true;
  pad.setAttribute('aria-label', `The picture sent: ${f.name}`);
  try {
    const bitmap = await createImageBitmap(f, { imageOrientation: 'from-image' });
    const scale = Math.min(pad.width / bitmap.width, pad.height / bitmap.height);
    view = { scale, dx: (pad.width - bitmap.width * scale) / 2, dy: (pad.height - bitmap.height * scale) / 2 };
    ctx.drawImage(bitmap, view.dx, view.dy, bitmap.width * scale, bitmap.height * scale);
    bitmap.close();
  } catch {
    // Not a picture the browser can show: the server's answer says what is wrong with it.
  }
  await predict(f);
}

for (const input of [fileInput, cameraInput]) input.addEventListener('change', () => { const f = input.files?.[0]; if (f) void predictFile(f); });
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  const f = e.dataTransfer?.files[0];
  if (f) void predictFile(f);
});
drop.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); fileInput.click(); } });
setupBrush();
