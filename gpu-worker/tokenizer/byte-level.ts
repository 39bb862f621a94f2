// GPT-2's byte-level alphabet: every byte 0..255 is written as one printable character, so a
// BPE vocabulary of strings can hold arbitrary bytes (a space is "Ġ", a newline "Ċ"). Decoding
// a token means mapping its characters back to bytes.

/** byte → the character that stands for it (bytes_to_unicode in GPT-2's encoder.py). */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const table: string[] = new Array(256);
  for (const b of printable) table[b] = String.fromCodePoint(b);
  let next = 0;
  for (let b = 0; b < 256; b++) {
    if (table[b] === undefined) table[b] = String.fromCodePoint(256 + next++);
  }
  return table;
})();

const CHAR_TO_BYTE = new Map<string, number>(BYTE_TO_CHAR.map((c, b) => [c, b]));

/**
 * The bytes a byte-level token stands for, or null when the token holds a character outside
 * the alphabet (then it is not a byte-level piece: an added token, whose text is literal).
 */
export function byteLevelBytes(token: string): Uint8Array | null {
  const out: number[] = [];
  for (const ch of token) {
    const b = CHAR_TO_BYTE.get(ch);
    if (b === undefined) return null;
    out.push(b);
  }
  return Uint8Array.from(out);
}
