// What `greetwatch hub` does about the memory its own start costs (README "Benchmarks"). The
// start is a burst that runs once: ~600 modules loaded, the store file parsed, the plugins set
// up. V8's young generation grows while the modules load and the start's garbage waits in the
// heap; its memory reducer gives both back 10–30 s after the hub goes idle.
// releaseStartupMemory() asks for that collection once the hub has started.

/**
 * V8's low-memory collection (what its memory reducer runs on an idle program), once, through
 * the inspector protocol's HeapProfiler.collectGarbage: the young generation back to its
 * smallest, the start's garbage collected and its pages released. About 40 ms on a fresh hub,
 * longer after a large trace replay; once. Never throws: a node built without the inspector
 * keeps the memory until V8 releases it.
 */
export async function releaseStartupMemory(): Promise<void> {
  try {
    const { Session } = await import('node:inspector');
    const session = new Session();
    session.connect();
    try {
      await new Promise<void>((resolve, reject) => session.post('HeapProfiler.collectGarbage', (err) => (err ? reject(err) : resolve())));
    } finally {
      session.disconnect();
    }
  } catch {
    // no inspector in this node, or the collection refused: V8's memory reducer does it later
  }
}
