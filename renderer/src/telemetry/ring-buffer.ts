// A fixed-capacity table of numbers (one Float64Array per column) that keeps the newest
// rows. The live charts read it every animation frame, so it lives outside React state
// and allocates nothing per sample.

export class RingBuffer {
  private readonly columns: Float64Array[];
  private start = 0;
  private count = 0;

  constructor(readonly capacity: number, readonly width: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`ring capacity must be a positive integer, got ${capacity}`);
    if (!Number.isInteger(width) || width < 1) throw new RangeError(`ring width must be a positive integer, got ${width}`);
    this.columns = Array.from({ length: width }, () => new Float64Array(capacity));
  }

  get size(): number {
    return this.count;
  }

  push(row: ArrayLike<number>): void {
    if (row.length !== this.width) throw new RangeError(`row has ${row.length} values, the ring holds ${this.width}`);
    const slot = (this.start + this.count) % this.capacity;
    for (let c = 0; c < this.width; c++) this.columns[c]![slot] = row[c]!;
    if (this.count < this.capacity) this.count++;
    else this.start = (this.start + 1) % this.capacity;
  }

  /** Value of column `col` in the i-th oldest row. */
  get(i: number, col: number): number {
    if (i < 0 || i >= this.count) throw new RangeError(`row ${i} outside 0..${this.count - 1}`);
    return this.columns[col]![(this.start + i) % this.capacity]!;
  }

  /** Column `col`, oldest first, copied into `out` (reused between frames). */
  copyColumn(col: number, out: number[]): number[] {
    const column = this.columns[col]!;
    out.length = this.count;
    for (let i = 0; i < this.count; i++) out[i] = column[(this.start + i) % this.capacity]!;
    return out;
  }

  clear(): void {
    this.start = 0;
    this.count = 0;
  }
}
