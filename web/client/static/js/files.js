// One resumable tus 1.0 upload to filestore's `/files/` with its row in the chat log:
// progress bar, Pause / Resume (pause aborts the PATCH in flight; resume asks the server
// for its offset with HEAD and continues from there) and Retry after a failure (same as
// resume; a fresh upload if none was created yet). Calls `onDone(fileId)` when complete.
// The file name is shown with textContent only.

import { el, errorText } from './ui.js';

const CHUNK = 4 * 1024 * 1024;

function b64(s) {
  return btoa(String.fromCharCode(...new TextEncoder().encode(s)));
}

export class Upload {
  constructor({ file, token, onDone, sizeText }) {
    this.file = file;
    this.token = token;
    this.onDone = onDone;
    this.location = null;
    this.offset = 0;
    this.abort = null;
    this.running = false;
    this.progress = el('progress', { max: String(file.size || 1), value: '0' });
    this.status = el('span', { class: 'status', text: '' });
    this.pauseButton = el('button', { type: 'button', class: 'pause', text: 'Pause' });
    this.retryButton = el('button', { type: 'button', class: 'retry', text: 'Retry', hidden: true });
    this.pauseButton.addEventListener('click', () => (this.running ? this.pause() : this.start()));
    this.retryButton.addEventListener('click', () => this.start());
    this.row = el('div', { class: 'chat-msg mine uploading', 'data-state': 'starting' }, [
      el('span', { class: 'file-name', text: file.name }),
      el('span', { class: 'file-size', text: ` ${sizeText}` }),
      el('div', {}, [this.progress, this.pauseButton, this.retryButton, this.status]),
    ]);
  }

  #headers(extra = {}) {
    return { Authorization: `Bearer ${this.token()}`, 'Tus-Resumable': '1.0.0', ...extra };
  }

  #state(state, text) {
    this.row.dataset.state = state;
    this.status.textContent = text ? ` ${text}` : '';
    this.pauseButton.textContent = state === 'paused' ? 'Resume' : 'Pause';
    this.pauseButton.hidden = state === 'failed' || state === 'done';
    this.retryButton.hidden = state !== 'failed';
  }

  pause() {
    if (!this.running) return;
    this.running = false;
    if (this.abort) this.abort.abort();
    this.#state('paused', 'paused');
  }

  async start() {
    if (this.running) return;
    this.running = true;
    const abort = new AbortController();
    this.abort = abort;
    this.#state('uploading', '');
    try {
      if (!this.location) {
        const meta = `filename ${b64(this.file.name)},filetype ${b64(this.file.type || 'application/octet-stream')}`;
        const created = await fetch('/files/', { method: 'POST', signal: abort.signal, headers: this.#headers({ 'Upload-Length': String(this.file.size), 'Upload-Metadata': meta }) });
        if (created.status !== 201) throw new Error(await errorText(created));
        const location = created.headers.get('Location');
        if (!location || !location.startsWith('/files/')) throw new Error('no upload location');
        this.location = location;
        this.offset = 0;
      } else {
        // Resume: the server's offset is the truth (a cut PATCH may have kept part of its body).
        const head = await fetch(this.location, { method: 'HEAD', signal: abort.signal, headers: this.#headers() });
        if (head.status !== 200) throw new Error(`resume refused: ${head.status}`);
        const offset = Number(head.headers.get('Upload-Offset'));
        if (!Number.isSafeInteger(offset) || offset < 0 || offset > this.file.size) throw new Error('bad Upload-Offset');
        this.offset = offset;
        this.row.dataset.resumedFrom = String(offset);
        this.progress.value = offset;
      }
      while (this.offset < this.file.size) {
        const chunk = this.file.slice(this.offset, Math.min(this.file.size, this.offset + CHUNK));
        const r = await fetch(this.location, {
          method: 'PATCH',
          signal: abort.signal,
          headers: this.#headers({ 'Upload-Offset': String(this.offset), 'Content-Type': 'application/offset+octet-stream' }),
          body: chunk,
        });
        if (r.status !== 204) throw new Error(await errorText(r));
        const offset = Number(r.headers.get('Upload-Offset'));
        if (!Number.isSafeInteger(offset) || offset <= this.offset) throw new Error('bad Upload-Offset');
        this.offset = offset;
        this.progress.value = offset;
      }
      this.running = false;
      this.#state('done', '');
      this.onDone(this.location.slice('/files/'.length), this.row);
    } catch (e) {
      if (abort.signal.aborted) return; // paused
      this.running = false;
      this.#state('failed', `upload failed: ${e.message}`);
    }
  }
}
