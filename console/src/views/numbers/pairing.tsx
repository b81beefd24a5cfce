/**
 * Pairing a number: the QR drawn large and replaced as WhatsApp rotates it,
 * or an 8-character pairing code typed on the phone; then "connected" the
 * moment it is. Everything after the first QR arrives through /events.
 */
import QRCode from "qrcode";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, api } from "../../api.ts";
import { type PomboEvent, useEvents } from "../../events.ts";
import type { Instance } from "../../types.ts";
import { Action, ErrorNote } from "../../ui.tsx";
import { REASONS } from "./meanings.ts";

const PAIRING_EVENTS = ["instance.qr", "instance.connected", "instance.disconnected", "instance.logged_out", "instance.banned"];

/**
 * How long a QR lives. Baileys shows the first ref of a `pair-device` 60 s
 * and each later one 20 s (Socket/socket.js: `qrMs = qrTimeout || 60000`,
 * then `|| 20000`). An event says when the fleet saw the QR, not which of
 * them it is: a QR arriving within a minute and a bit of the previous one
 * is taken for a rotation (20 s), any other for the first of a connection
 * (60 s). One read from GET /qr has no time: no countdown until the next.
 */
const FIRST_QR_MS = 60_000;
const NEXT_QR_MS = 20_000;
const ROTATION_GAP_MS = FIRST_QR_MS + 10_000;

interface Qr {
  text: string;
  /** When the fleet got it (the event's time); null for one read from GET /qr, whose age is unknown. */
  at: number | null;
  lifetimeMs: number;
  /** How many QRs this view has shown: a test and an operator can tell a rotation happened. */
  serial: number;
}

/** Why pairing stopped and waits for the operator; a transient drop is not one (the fleet retries by itself). */
const endedBy = (reason: Instance["reason"]) => (reason && reason !== "transient" ? reason : null);

export function Pairing({ number, onChanged }: { number: Instance; onChanged: () => void }) {
  const [qr, setQr] = useState<Qr | null>(null);
  const [qrError, setQrError] = useState<unknown>();
  const [connected, setConnected] = useState(number.state === "connected");
  const [ended, setEnded] = useState<Instance["reason"]>(endedBy(number.reason));

  /** The QR showing now, if pairing is under way (409: none now); later ones come as events. */
  const showCurrentQr = () =>
    api<{ qr: string }>(`/instances/${encodeURIComponent(number.id)}/qr`).then(
      (r) => setQr((old) => (old?.text === r.qr ? old : { text: r.qr, at: null, lifetimeMs: NEXT_QR_MS, serial: (old?.serial ?? 0) + 1 })),
      (err) => !(err instanceof ApiError && err.status === 409) && setQrError(err),
    );
  // Read once the stream is live, so a QR that came before it is not missed; and whenever the page sees pairing begin.
  useEffect(() => {
    if (number.state === "qr_pending") void showCurrentQr();
  }, [number.id, number.state]);

  useEvents(PAIRING_EVENTS, (event: PomboEvent) => {
    if (event.instance_id !== number.id) return;
    const payload = event.payload as { qr?: string | null; reason?: Instance["reason"] } | undefined;
    if (event.type === "instance.qr" && payload?.qr) {
      const at = Date.parse(event.created_at);
      setEnded(null);
      setQr((old): Qr =>
        // The one already shown (read from GET /qr, or this event again after a resume): at most its time is news.
        old && old.text === payload.qr
          ? old.at === null
            ? { ...old, at, lifetimeMs: FIRST_QR_MS }
            : old
          : {
              text: payload.qr!,
              at,
              lifetimeMs: old?.at != null && at - old.at < ROTATION_GAP_MS ? NEXT_QR_MS : FIRST_QR_MS,
              serial: (old?.serial ?? 0) + 1,
            },
      );
    } else if (event.type === "instance.connected") {
      setConnected(true);
      setQr(null);
    } else if (endedBy(payload?.reason ?? null)) {
      setEnded(payload!.reason!);
      setQr(null);
    }
    onChanged();
  }, (stream) => stream === "live" && void showCurrentQr());

  if (connected) {
    return (
      <article class="pairing" data-pairing="connected">
        <h3 class="ok-text">Connected</h3>
        <p>The number is paired and online. It can send and receive now.</p>
      </article>
    );
  }
  return (
    <article class="pairing" data-pairing={ended ?? (qr ? "qr" : "waiting")}>
      <h3>Pair this number</h3>
      {ended ? (
        <>
          <p role="status">{REASONS[ended!]}</p>
          <Action onRun={() => api(`/instances/${encodeURIComponent(number.id)}/restart`, { method: "POST" }).then(onChanged)}>
            Start pairing again
          </Action>
        </>
      ) : (
        <div class="grid">
          <div>
            <p>On the phone: WhatsApp → Settings → Linked devices → Link a device, then point the camera at this code.</p>
            {qr ? <QrCanvas qr={qr} /> : <p aria-busy="true">Waiting for WhatsApp's QR…</p>}
            <ErrorNote error={qrError} />
          </div>
          <PairingCode id={number.id} />
        </div>
      )}
    </article>
  );
}

function QrCanvas({ qr }: { qr: Qr }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    if (canvas.current) QRCode.toCanvas(canvas.current, qr.text, { width: 360, margin: 2, errorCorrectionLevel: "L" }).catch(setError);
  }, [qr.text]);
  return (
    <figure>
      <canvas ref={canvas} class="qr" data-serial={qr.serial} aria-label="WhatsApp pairing QR" />
      <figcaption>
        <Countdown qr={qr} />
      </figcaption>
      <ErrorNote error={error} />
    </figure>
  );
}

function Countdown({ qr }: { qr: Qr }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  if (qr.at === null) return <span class="muted">WhatsApp replaces this code every 20 seconds or so; it changes here by itself.</span>;
  const left = Math.max(0, Math.ceil((qr.at + qr.lifetimeMs - now) / 1000));
  return <span data-countdown={left}>{left > 0 ? `New code in ${left} s` : "A new code is on its way…"}</span>;
}

function PairingCode({ id }: { id: string }) {
  const [phone, setPhone] = useState("");
  const [code, setCode] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      setCode((await api<{ code: string }>(`/instances/${encodeURIComponent(id)}/pairing-code`, { method: "POST", body: { phone } })).code);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div>
      <p>Or, without a camera: ask for a code, then on the phone choose "Link with phone number instead" and type it.</p>
      <form onSubmit={submit} aria-label="Pairing code">
        <fieldset role="group">
          <input name="phone" required placeholder="+55 11 98888-7777" aria-label="Phone being paired" value={phone} onInput={(e) => setPhone(e.currentTarget.value)} />
          <button type="submit" aria-busy={busy} disabled={busy}>
            Get a code
          </button>
        </fieldset>
        <ErrorNote error={error} />
      </form>
      {code && (
        <p class="pairing-code" data-code={code}>
          {code.length === 8 ? `${code.slice(0, 4)}-${code.slice(4)}` : code}
        </p>
      )}
    </div>
  );
}
