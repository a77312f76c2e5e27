// The console's pure parts: HTML escaping, the metrics it reads, the swim lanes it draws.
import { html, table } from './html.mts';
import { parsePrometheus, sampleOf } from './metrics.mts';
import { localPath } from './paths.mts';
import { laneOfCommand, marksOf, swimLanes } from './timeline.mts';

describe('html', () => {
  it('escapes every value put in, unless it is html itself', () => {
    const evil = `<img src=x onerror="alert('x')">&`;
    expect(html`<p title="${evil}">${evil}</p>`.text).toBe(
      '<p title="&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;&amp;">&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;&amp;</p>',
    );
    expect(html`<div>${html`<b>${evil}</b>`}</div>`.text).toBe(
      '<div><b>&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;&amp;</b></div>',
    );
    expect(html`${[1, null, undefined, false, 'a<']}`.text).toBe('1a&lt;');
  });

  it('gives a table its caption and header, and says so when it has no rows', () => {
    expect(table('Letters', ['id'], [['<1>']]).text).toMatch(
      /<caption>\s*Letters\s*<\/caption>[\s\S]*<th scope="col">id<\/th>[\s\S]*<td>&lt;1&gt;<\/td>/,
    );
    expect(table('Letters', ['id'], []).text).toBe('<p class="empty">Letters: none.</p>');
  });
});

describe('metrics', () => {
  const text = [
    '# HELP outbox_backlog_messages Outbox rows after the published mark',
    '# TYPE outbox_backlog_messages gauge',
    'outbox_backlog_messages 7',
    'kafka_consumer_lag{group="a",topic="t",partition="0"} 3',
    'kafka_consumer_lag{group="a",topic="t",partition="1"} 4',
    'consumer_parked_messages{consumer="c",cause="failed"} 2',
    'sagas{type="order-saga",state="RUNNING",step="reserve-stock"} 5',
    'sagas{type="order-saga",state="RUNNING",step="authorize-payment"} 1',
    'sagas{type="order-cancellation",state="PARKED"} 2',
    'weird{label="a \\"quoted\\" value"} NaN',
  ].join('\n');

  it('reads the Prometheus text format, labels with escapes included', () => {
    const series = parsePrometheus(text);
    expect(series).toHaveLength(7); // NaN is no sample
    expect(series[1]).toEqual({
      name: 'kafka_consumer_lag',
      labels: { group: 'a', topic: 't', partition: '0' },
      value: 3,
    });
    expect(parsePrometheus('x{l="a \\"b\\""} 1')[0]?.labels).toEqual({ l: 'a "b"' });
  });

  it('sums what the overview draws, sagas by state', () => {
    expect(sampleOf(text, 1)).toEqual({
      at: 1,
      up: true,
      outboxBacklog: 7,
      consumerLag: 7,
      parked: 2,
      sagas: { RUNNING: 6, PARKED: 2 },
    });
  });
});

describe('the swim lanes', () => {
  const at = (ms: number) => new Date(Date.UTC(2026, 11, 5, 10, 0, 0, ms)).toISOString();
  const input = {
    orderEvents: [{ at: at(0), type: 'OrderCreated', version: 1 }],
    sagas: [
      {
        type: 'order-saga',
        timeline: [
          { at: at(10), event: 'SagaStarted' },
          { at: at(10), event: 'SagaCommandSent', step: 'reserve-stock', command: 'ReserveStock' },
          {
            at: at(40),
            event: 'SagaReplyReceived',
            step: 'reserve-stock',
            command: 'ReserveStock',
            outcome: 'failure',
            detail: 'OUT_OF_STOCK: none left',
          },
          { at: at(41), event: 'SagaCompensationStarted', step: 'reserve-stock', detail: 'x' },
          { at: at(42), event: 'SagaCommandSent', step: 'x', command: 'RejectOrder' },
        ],
      },
    ],
  };

  it('sends each command to its participant, and draws its reply from there', () => {
    expect(
      ['ReserveStock', 'CapturePayment', 'RefundPayment', 'ApproveOrder'].map(laneOfCommand),
    ).toEqual(['Inventory', 'Payment', 'Payment', 'Order']);
    const marks = marksOf(input);
    expect(marks.map((m) => [m.at - Date.parse(at(0)), m.lane, m.kind])).toEqual([
      [0, 'Order', 'event'],
      [10, 'Saga', 'event'],
      [10, 'Saga', 'event'],
      [40, 'Inventory', 'problem'],
      [40, 'Saga', 'problem'],
      [41, 'Saga', 'problem'],
      [42, 'Saga', 'event'],
      [42, 'Order', 'problem'], // sent, and not answered (yet)
    ]);
    // The participant's part runs from the send to the reply.
    expect(marks[3]).toMatchObject({
      label: 'ReserveStock: failure (OUT_OF_STOCK: none left)',
      from: { lane: 'Saga', at: Date.parse(at(10)) },
    });
  });

  it('titles every mark, and the drawing as a whole, for a screen reader', () => {
    const svg = swimLanes(input).text;
    expect(svg).toContain('role="img"');
    expect(svg).toMatch(
      /<title id="timeline-title">\s*The order's events in each service over 42 ms/,
    );
    expect(svg.match(/<circle /g)).toHaveLength(8);
    expect(svg).toContain('<title>+40 ms: ReserveStock: failure (OUT_OF_STOCK: none left)</title>');
    expect(swimLanes({ orderEvents: [], sagas: [] }).text).toContain('No events to draw.');
  });
});

describe('where a login returns to', () => {
  it('is a path of the console, never another site', () => {
    expect(localPath('/orders/o-1?x=1')).toBe('/orders/o-1?x=1');
    for (const elsewhere of [
      'https://evil.example',
      '//evil.example',
      '/\\evil.example',
      '/\\/evil.example',
      '/ok\nSet-Cookie: x',
      '',
      null,
      undefined,
      'orders',
    ])
      expect(localPath(elsewhere)).toBe('/');
  });
});
