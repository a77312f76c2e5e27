import { duplicateKey } from './strict-input';

describe('duplicateKey', () => {
  it.each([
    ['{"a":1,"b":2}', undefined],
    ['{"a":1,"a":2}', 'a'],
    ['{"a":{"b":1,"c":{"b":2}}}', undefined],
    ['{"a":{"b":1,"b":2}}', 'a.b'],
    ['{"items":[{"q":1},{"q":2,"q":3}]}', 'items[1].q'],
    ['[{"x":1},{"x":1}]', undefined],
    ['[[1,2],[{"k":"a,\\"k\\":","k":"b"}]]', '[1][0].k'],
    ['{"a\\u0062":1,"ab":2}', 'ab'],
    ['{"s":"{\\"a\\":1,\\"a\\":2}"}', undefined],
    ['null', undefined],
  ])('%s -> %s', (text, expected) => {
    JSON.parse(text); // every case is valid JSON
    expect(duplicateKey(text)).toBe(expected);
  });
});
