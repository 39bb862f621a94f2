// A small runtime schema: each process boundary validates what it receives with these
// (renderer→main requests, main↔worker messages, addon results). Pure TypeScript with no
// Node or DOM imports, so every process can share it. A failed check throws SchemaError
// naming the path of the bad field.

export class SchemaError extends Error {
  readonly code = 'INVALID_MESSAGE';
  constructor(readonly path: string, expected: string, got: unknown) {
    super(`${path || 'value'}: expected ${expected}, got ${describe(got)}`);
    this.name = 'SchemaError';
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  return typeof value;
}

export interface Schema<T> {
  readonly kind: string;
  parse(value: unknown, path?: string): T;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

function schema<T>(kind: string, parse: (value: unknown, path: string) => T): Schema<T> {
  return { kind, parse: (value, path = '') => parse(value, path) };
}

export const s = {
  string(opts: { min?: number; max?: number; pattern?: RegExp } = {}): Schema<string> {
    return schema('string', (v, p) => {
      if (typeof v !== 'string') throw new SchemaError(p, 'string', v);
      if (opts.min !== undefined && v.length < opts.min) throw new SchemaError(p, `string of length >= ${opts.min}`, v);
      if (opts.max !== undefined && v.length > opts.max) throw new SchemaError(p, `string of length <= ${opts.max}`, v);
      if (opts.pattern && !opts.pattern.test(v)) throw new SchemaError(p, `string matching ${opts.pattern}`, v);
      return v;
    });
  },
  number(opts: { min?: number; max?: number; int?: boolean } = {}): Schema<number> {
    return schema('number', (v, p) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new SchemaError(p, 'finite number', v);
      if (opts.int && !Number.isInteger(v)) throw new SchemaError(p, 'integer', v);
      if (opts.min !== undefined && v < opts.min) throw new SchemaError(p, `number >= ${opts.min}`, v);
      if (opts.max !== undefined && v > opts.max) throw new SchemaError(p, `number <= ${opts.max}`, v);
      return v;
    });
  },
  boolean(): Schema<boolean> {
    return schema('boolean', (v, p) => {
      if (typeof v !== 'boolean') throw new SchemaError(p, 'boolean', v);
      return v;
    });
  },
  literal<const T extends string | number | boolean | null>(value: T): Schema<T> {
    return schema('literal', (v, p) => {
      if (v !== value) throw new SchemaError(p, JSON.stringify(value), v);
      return value;
    });
  },
  enum<const T extends readonly string[]>(values: T): Schema<T[number]> {
    return schema('enum', (v, p) => {
      if (typeof v !== 'string' || !values.includes(v)) throw new SchemaError(p, `one of ${values.join('|')}`, v);
      return v as T[number];
    });
  },
  array<T>(item: Schema<T>, opts: { max?: number } = {}): Schema<T[]> {
    return schema('array', (v, p) => {
      if (!Array.isArray(v)) throw new SchemaError(p, 'array', v);
      if (opts.max !== undefined && v.length > opts.max) throw new SchemaError(p, `array of at most ${opts.max} items`, v);
      return v.map((x, i) => item.parse(x, `${p}[${i}]`));
    });
  },
  object<Shape extends Record<string, Schema<unknown>>>(shape: Shape): Schema<{ [K in keyof Shape]: Infer<Shape[K]> }> {
    return schema('object', (v, p) => {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new SchemaError(p, 'object', v);
      const input = v as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(shape)) {
        const field = shape[key]!;
        const value = field.parse(input[key], p ? `${p}.${key}` : key);
        if (value !== undefined) out[key] = value;
      }
      return out as { [K in keyof Shape]: Infer<Shape[K]> };
    });
  },
  optional<T>(inner: Schema<T>): Schema<T | undefined> {
    return schema('optional', (v, p) => (v === undefined ? undefined : inner.parse(v, p)));
  },
  nullable<T>(inner: Schema<T>): Schema<T | null> {
    return schema('nullable', (v, p) => (v === null ? null : inner.parse(v, p)));
  },
  record<T>(value: Schema<T>): Schema<Record<string, T>> {
    return schema('record', (v, p) => {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new SchemaError(p, 'object', v);
      const out: Record<string, T> = {};
      for (const [k, x] of Object.entries(v)) out[k] = value.parse(x, `${p}.${k}`);
      return out;
    });
  },
  /** A tagged union over the field `tag`: picks the member whose literal tag matches. */
  union<const Tag extends string, M extends Record<string, Schema<unknown>>>(tag: Tag, members: M): Schema<Infer<M[keyof M]>> {
    return schema('union', (v, p) => {
      if (typeof v !== 'object' || v === null) throw new SchemaError(p, 'object', v);
      const t = (v as Record<string, unknown>)[tag];
      if (typeof t !== 'string' || !(t in members)) {
        throw new SchemaError(p ? `${p}.${tag}` : tag, `one of ${Object.keys(members).join('|')}`, t);
      }
      return members[t]!.parse(v, p) as Infer<M[keyof M]>;
    });
  },
  unknown(): Schema<unknown> {
    return schema('unknown', (v) => v);
  },
};
