import { describe, expect, it } from 'vitest';
import { s, SchemaError } from '../../electron/contract/schema.js';

describe('schema', () => {
  const job = s.object({
    id: s.string({ min: 1, max: 10 }),
    count: s.number({ int: true, min: 0 }),
    tags: s.array(s.string(), { max: 2 }),
    note: s.optional(s.string()),
    kind: s.enum(['a', 'b'] as const),
  });

  it('accepts a valid value and drops unknown keys', () => {
    expect(job.parse({ id: 'x', count: 2, tags: ['t'], kind: 'a', extra: 1 })).toEqual({ id: 'x', count: 2, tags: ['t'], kind: 'a' });
  });

  it.each([
    [{ id: '', count: 1, tags: [], kind: 'a' }, 'id'],
    [{ id: 'x', count: 1.5, tags: [], kind: 'a' }, 'count'],
    [{ id: 'x', count: -1, tags: [], kind: 'a' }, 'count'],
    [{ id: 'x', count: 1, tags: ['a', 'b', 'c'], kind: 'a' }, 'tags'],
    [{ id: 'x', count: 1, tags: [3], kind: 'a' }, 'tags[0]'],
    [{ id: 'x', count: 1, tags: [], kind: 'c' }, 'kind'],
    [{ id: 'x', count: Number.NaN, tags: [], kind: 'a' }, 'count'],
    [null, 'value'],
  ])('rejects %j at %s', (value, path) => {
    expect(() => job.parse(value)).toThrow(SchemaError);
    try {
      job.parse(value);
    } catch (error) {
      expect((error as Error).message.startsWith(path)).toBe(true);
    }
  });

  it('picks tagged union members by their tag', () => {
    const msg = s.union('type', {
      ping: s.object({ type: s.literal('ping'), id: s.number() }),
      stop: s.object({ type: s.literal('stop') }),
    });
    expect(msg.parse({ type: 'ping', id: 3 })).toEqual({ type: 'ping', id: 3 });
    expect(() => msg.parse({ type: 'pong' })).toThrow(/type: expected one of ping\|stop/);
    expect(() => msg.parse({ type: 'ping', id: 'x' })).toThrow(/id/);
  });
});
