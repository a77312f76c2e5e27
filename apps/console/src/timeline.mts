// An order's swim lanes: one lane per service, time across. The order's own events on the
// order service's lane; each saga's events on the orchestrator's; a command the saga sent as an
// arrow to the lane of the participant it went to, its reply as an arrow back (red when it
// failed); deadlines missed, compensations and parks marked where they happened. Drawn as SVG
// on the server, with a <title> on every mark and the same facts in the table beside it.
import { html, type Html } from './html.mts';

export interface TimelineInput {
  readonly orderEvents: readonly {
    readonly at: string;
    readonly type: string;
    readonly version: number;
  }[];
  readonly sagas: readonly {
    readonly type: string;
    readonly timeline: readonly {
      readonly at: string;
      readonly event: string;
      readonly step?: string;
      readonly command?: string;
      readonly outcome?: string;
      readonly detail?: string;
    }[];
  }[];
}

const LANES = ['Order', 'Saga', 'Inventory', 'Payment'] as const;
type Lane = (typeof LANES)[number];

/** The participant a saga command goes to, by its name. */
export function laneOfCommand(command: string): Lane {
  if (/Stock/.test(command)) return 'Inventory';
  if (/Payment|Funds|Refund/.test(command)) return 'Payment';
  return 'Order';
}

interface Mark {
  readonly at: number;
  readonly lane: Lane;
  readonly label: string;
  readonly kind: 'event' | 'problem' | 'end';
  /** An arrow from this lane at `fromAt` (a command or a reply). */
  readonly from?: { readonly lane: Lane; readonly at: number };
}

export function marksOf(input: TimelineInput): Mark[] {
  const marks: Mark[] = [];
  for (const e of input.orderEvents)
    marks.push({
      at: Date.parse(e.at),
      lane: 'Order',
      label: `${e.type} (version ${e.version})`,
      kind: 'event',
    });
  for (const saga of input.sagas) {
    // A command's send, until its reply: the participant's part is drawn from one to the other.
    const sent = new Map<string, number>();
    for (const t of saga.timeline) {
      const at = Date.parse(t.at);
      const key = `${t.step ?? ''}/${t.command ?? ''}`;
      if (t.event === 'SagaCommandSent' && t.command) {
        sent.set(key, at);
        marks.push({
          at,
          lane: 'Saga',
          label: `${saga.type}: ${t.command} sent (${t.step ?? ''})`,
          kind: 'event',
        });
      } else if (t.event === 'SagaReplyReceived' && t.command) {
        const lane = laneOfCommand(t.command);
        const kind = t.outcome === 'success' ? 'event' : 'problem';
        const outcome = `${t.outcome ?? ''}${t.detail ? ` (${t.detail})` : ''}`;
        marks.push({
          at,
          lane,
          label: `${t.command}: ${outcome}`,
          kind,
          from: { lane: 'Saga', at: sent.get(key) ?? at },
        });
        sent.delete(key);
        marks.push({
          at,
          lane: 'Saga',
          label: `${saga.type}: reply to ${t.command}: ${outcome}`,
          kind,
          from: { lane, at },
        });
      } else {
        const problem = /Deadline|Parked|Compensation|Retry/.test(t.event);
        marks.push({
          at,
          lane: 'Saga',
          label: `${saga.type}: ${t.event}${t.step ? ` at ${t.step}` : ''}${t.detail ? `: ${t.detail}` : ''}`,
          kind: problem ? 'problem' : /Completed|Compensated/.test(t.event) ? 'end' : 'event',
        });
      }
    }
    // Sent and not answered (a compensation sent on, a reply still due): where it went.
    for (const [key, at] of sent) {
      const command = key.slice(key.indexOf('/') + 1);
      marks.push({
        at,
        lane: laneOfCommand(command),
        label: `${command}: no reply (yet)`,
        kind: 'problem',
        from: { lane: 'Saga', at },
      });
    }
  }
  return marks.sort((a, b) => a.at - b.at);
}

export function swimLanes(input: TimelineInput): Html {
  const marks = marksOf(input);
  if (marks.length === 0) return html`<p class="empty">No events to draw.</p>`;
  const width = 960;
  const left = 90;
  const laneHeight = 44;
  const top = 24;
  const height = top + LANES.length * laneHeight + 10;
  const first = marks[0]?.at ?? 0;
  const last = marks.at(-1)?.at ?? first;
  const span = Math.max(1, last - first);
  const x = (at: number) => left + 10 + ((at - first) / span) * (width - left - 30);
  const y = (lane: Lane) => top + LANES.indexOf(lane) * laneHeight + laneHeight / 2;
  const color = (kind: Mark['kind']) =>
    kind === 'problem' ? '#b91c1c' : kind === 'end' ? '#166534' : '#1d4ed8';
  return html`<svg
    class="timeline"
    role="img"
    aria-labelledby="timeline-title"
    viewBox="0 0 ${width} ${height}"
    width="${width}"
    height="${height}"
  >
    <title id="timeline-title">
      The order's events in each service over ${span} ms, from ${new Date(first).toISOString()}:
      ${marks.length} marks (the table below lists them)
    </title>
    ${LANES.map(
      (lane, i) =>
        html`<g
          ><rect
            x="0"
            y="${top + i * laneHeight}"
            width="${width}"
            height="${laneHeight}"
            fill="${i % 2 ? '#f8fafc' : '#eef2f7'}"
          /><text x="8" y="${y(lane) + 4}">${lane}</text></g
        >`,
    )}
    <text x="${left + 10}" y="16">+0 ms</text>
    <text x="${width - 20}" y="16" text-anchor="end">+${span} ms</text>
    ${marks.map((m) => {
      const arrow = m.from
        ? html`<line
            x1="${x(m.from.at)}"
            y1="${y(m.from.lane)}"
            x2="${x(m.at)}"
            y2="${y(m.lane)}"
            stroke="${color(m.kind)}"
            stroke-opacity="0.5"
          />`
        : '';
      return html`<g
        >${arrow}<circle cx="${x(m.at)}" cy="${y(m.lane)}" r="5" fill="${color(m.kind)}"
          ><title>+${m.at - first} ms: ${m.label}</title></circle
        ></g
      >`;
    })}
  </svg>`;
}
