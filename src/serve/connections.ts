import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * The server's connections as a drain sees them. Node's own closeIdleConnections() takes a connection
 * whose request bytes have arrived but have not been read yet (the event loop was busy) for an idle one
 * and closes it under a client that has already sent its request. Here a connection is closed only when
 * it has stayed silent through a grace period: no request started on it and no byte arrived.
 */
export interface ConnectionTracker {
  /** Every connection the server accepts (its 'connection' event). */
  accepted(socket: Socket): void;
  /** Every request whose headers were parsed, with its response. */
  requestStarted(req: IncomingMessage, res: ServerResponse): void;
  /** From now on, close each connection once it has been silent and without a request for `graceMs`. */
  drain(graceMs: number): void;
  /** Resolves when no connection is left open. */
  allClosed(): Promise<void>;
  /** Closes what is left; returns how many requests were cut: answers in progress and requests half received. */
  closeAll(): number;
  readonly inFlight: number;
  readonly open: number;
}

interface Tracked { busy: number; requests: number; bytesRead: number; watching: boolean }

/** Resolves after `ms`, in the check phase: the I/O ready in that loop iteration (requests, new connections) is read first. */
export function afterGrace(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(() => setImmediate(resolve), ms).unref());
}

export function createConnectionTracker(): ConnectionTracker {
  const sockets = new Map<Socket, Tracked>();
  let inFlight = 0;
  let graceMs: number | undefined;
  let onEmpty: (() => void) | undefined;

  // A connection is closed only after a whole grace period in which nothing happened on it; any request
  // or byte starts the wait again. The check runs after the poll phase (afterGrace), so a request whose
  // bytes are ready when the timer fires is read, and counted, before the decision.
  const watch = (socket: Socket, t: Tracked) => {
    if (graceMs === undefined || t.watching || socket.destroyed) return;
    t.watching = true;
    const requests = t.requests, bytes = socket.bytesRead;
    void afterGrace(graceMs).then(() => {
      t.watching = false;
      if (socket.destroyed || t.busy > 0) return; // its answer closes it (Connection: close while draining)
      if (t.requests !== requests || socket.bytesRead !== bytes) watch(socket, t);
      else socket.destroy();
    });
  };

  return {
    accepted(socket) {
      const t: Tracked = { busy: 0, requests: 0, bytesRead: 0, watching: false };
      sockets.set(socket, t);
      socket.once('close', () => {
        sockets.delete(socket);
        if (sockets.size === 0) onEmpty?.();
      });
      watch(socket, t);
    },
    requestStarted(req, res) {
      const t = sockets.get(req.socket);
      inFlight++;
      if (t) {
        t.busy++;
        t.requests++;
        t.bytesRead = req.socket.bytesRead;
      }
      res.once('close', () => {
        inFlight--;
        if (!t) return;
        t.busy--;
        t.bytesRead = req.socket.bytesRead;
        // Kept alive after its answer (the request began before the drain): the same grace, then closed.
        if (t.busy === 0) watch(req.socket, t);
      });
    },
    drain(ms) {
      graceMs = ms;
      for (const [socket, t] of sockets) watch(socket, t);
    },
    allClosed() {
      return sockets.size === 0 ? Promise.resolve() : new Promise((resolve) => { onEmpty = resolve; });
    },
    closeAll() {
      let cut = inFlight;
      for (const [socket, t] of sockets) {
        if (t.busy === 0 && socket.bytesRead > t.bytesRead) cut++; // part of a request had arrived
        socket.destroy();
      }
      return cut;
    },
    get inFlight() { return inFlight; },
    get open() { return sockets.size; },
  };
}
