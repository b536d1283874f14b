/**
 * A masonry grid that keeps rank order readable: pins go, in order, to the shortest column. Every pin's
 * height is known before its image loads (the art's aspect ratio), so nothing moves as pins appear.
 */
export class Masonry {
  private columns: HTMLElement[] = [];
  private heights: number[] = [];
  private readonly items: { element: HTMLElement; aspect: number }[] = [];
  private readonly observer: ResizeObserver;

  constructor(
    private readonly root: HTMLElement,
    private readonly minColumnWidth = 200,
  ) {
    this.observer = new ResizeObserver(() => {
      if (this.columnCount() !== this.columns.length) this.relayout();
    });
    this.observer.observe(root);
    this.relayout();
  }

  private columnCount(): number {
    const width = this.root.clientWidth || window.innerWidth;
    return Math.max(2, Math.floor(width / this.minColumnWidth));
  }

  /** Appends a pin; `aspect` is height / width. */
  add(element: HTMLElement, aspect: number): void {
    this.items.push({ element, aspect });
    this.place(element, aspect);
  }

  /** Replaces every pin from position `from` on (a re-rank below the pin the user acted on). */
  replaceFrom(from: number, next: { element: HTMLElement; aspect: number }[]): void {
    this.items.splice(from, this.items.length - from, ...next);
    this.relayout();
  }

  remove(element: HTMLElement): void {
    const at = this.items.findIndex((item) => item.element === element);
    if (at >= 0) this.items.splice(at, 1);
    this.relayout();
  }

  get size(): number {
    return this.items.length;
  }

  private place(element: HTMLElement, aspect: number): void {
    let shortest = 0;
    for (let c = 1; c < this.heights.length; c++)
      if (this.heights[c] < this.heights[shortest] - 1e-9) shortest = c;
    this.columns[shortest].append(element);
    // Title and buttons add about a fifth of a square pin to the art's height.
    this.heights[shortest] += aspect + 0.22;
  }

  relayout(): void {
    const count = this.columnCount();
    this.columns = Array.from({ length: count }, () => {
      const column = document.createElement('div');
      column.className = 'masonry-column';
      return column;
    });
    this.heights = new Array(count).fill(0);
    for (const { element, aspect } of this.items) this.place(element, aspect);
    this.root.replaceChildren(...this.columns);
  }

  dispose(): void {
    this.observer.disconnect();
  }
}
