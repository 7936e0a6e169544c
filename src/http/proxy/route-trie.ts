/** A service a path prefix leads to. */
export interface PrefixRoute {
  readonly service: string;
  readonly pathPrefix: string;
  /** Segments the prefix names (`/fraud` and `/fraud/` name 1, `/` none): a `..` may not remove them. */
  readonly depth: number;
}

class PrefixNode {
  readonly children = new Map<string, PrefixNode>();
  /** The route whose prefix ends here without a slash (`/fraud`): this path and any below it. */
  self: PrefixRoute | null = null;
  /** The route whose prefix ends here with a slash (`/fraud/`): only paths below it. */
  below: PrefixRoute | null = null;
}

/**
 * Path prefixes in a trie over path segments: finding the longest prefix of a
 * path costs one map lookup per segment, no more than the deepest prefix has,
 * whatever the number of prefixes. A prefix matches itself and anything below it at a segment
 * boundary (`/fraud` matches `/fraud` and `/fraud/x`, not `/fraudulent`); one
 * ending in a slash matches only below it (`/fraud/` matches `/fraud/` and
 * `/fraud/x`). The first route added for a prefix keeps it.
 */
export class PrefixTrie {
  private readonly root = new PrefixNode();

  add(service: string, pathPrefix: string): void {
    if (pathPrefix === '/') {
      this.root.self ??= { service, pathPrefix, depth: 0 };
      return;
    }
    const slash = pathPrefix.endsWith('/');
    const names = pathPrefix.slice(1, slash ? -1 : undefined).split('/');
    let node = this.root;
    for (const name of names) {
      let child = node.children.get(name);
      if (child === undefined) {
        child = new PrefixNode();
        node.children.set(name, child);
      }
      node = child;
    }
    const route = { service, pathPrefix, depth: names.length };
    if (slash) node.below ??= route;
    else node.self ??= route;
  }

  /**
   * The route with the longest prefix of `path` (starting with `/`, no query).
   * The walk reads one segment per trie level and stops where the trie does,
   * so a deep path costs no more than the deepest prefix.
   */
  longest(path: string): PrefixRoute | null {
    let node = this.root;
    let best = node.self;
    for (let start = 1; ; ) {
      // A segment follows this node, so a prefix ending here in a slash matches.
      if (node.below !== null) best = node.below;
      if (node.children.size === 0) return best;
      const end = path.indexOf('/', start);
      const child = node.children.get(path.slice(start, end === -1 ? undefined : end));
      if (child === undefined) return best;
      node = child;
      if (node.self !== null) best = node.self;
      if (end === -1) return best;
      start = end + 1;
    }
  }
}
