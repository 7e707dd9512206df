export const CELL = 28;

export interface Mosaic {
  rows: number;
  cols: number;
  /** Row-major uint8 pixels, rows*28 high and cols*28 wide, white digits on black. */
  pixels: Uint8Array;
  labels: number[];
  indices: number[];
}

/**
 * Remembers the most recent `capacity` predicted images (their input index and label) and lays
 * them out as a grid, newest last. Images are referenced by index into the job's input, so
 * remembering costs nothing per image.
 */
export class RecentImages {
  private readonly indices: number[] = [];
  private readonly labels: number[] = [];
  private added = 0;

  constructor(readonly capacity: number) {}

  /** How many images have been added in total; a preview is due only when this moved. */
  get version(): number {
    return this.added;
  }

  add(index: number, label: number): void {
    this.indices.push(index);
    this.labels.push(label);
    if (this.indices.length > this.capacity) {
      this.indices.shift();
      this.labels.shift();
    }
    this.added += 1;
  }

  mosaic(image: (index: number) => Uint8Array, cols: number): Mosaic | undefined {
    const count = this.indices.length;
    if (count === 0) return undefined;
    const gridCols = Math.min(cols, count);
    const rows = Math.ceil(count / gridCols);
    return {
      rows,
      cols: gridCols,
      pixels: layoutMosaic(image, this.indices, rows, gridCols),
      labels: [...this.labels],
      indices: [...this.indices],
    };
  }
}

/** Copies the 28x28 images at `indices` (784 bytes each from `image`) into a rows x cols grid. */
export function layoutMosaic(
  image: (index: number) => Uint8Array,
  indices: readonly number[],
  rows: number,
  cols: number,
): Uint8Array {
  const width = cols * CELL;
  const out = new Uint8Array(rows * CELL * width);
  indices.forEach((index, tile) => {
    const pixels = image(index);
    const top = Math.floor(tile / cols) * CELL;
    const left = (tile % cols) * CELL;
    for (let y = 0; y < CELL; y++) {
      out.set(pixels.subarray(y * CELL, (y + 1) * CELL), (top + y) * width + left);
    }
  });
  return out;
}
