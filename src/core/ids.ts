/** Maps external ids (strings from files or clients) to dense 0-based indices and back. */
export class IdIndex {
  private readonly byId = new Map<string, number>();
  private readonly ids: string[] = [];

  static from(ids: Iterable<string>): IdIndex {
    const index = new IdIndex();
    for (const id of ids) index.intern(id);
    return index;
  }

  /** The index of `id`, assigning the next free one on first sight. */
  intern(id: string): number {
    let index = this.byId.get(id);
    if (index === undefined) {
      index = this.ids.length;
      this.byId.set(id, index);
      this.ids.push(id);
    }
    return index;
  }

  indexOf(id: string): number | undefined {
    return this.byId.get(id);
  }

  idOf(index: number): string {
    const id = this.ids[index];
    if (id === undefined) throw new RangeError(`no id at index ${index} (size ${this.ids.length})`);
    return id;
  }

  get size(): number {
    return this.ids.length;
  }

  toArray(): readonly string[] {
    return this.ids;
  }
}
