// The line bench/warm-entry.ts prints between its two exports' reports, which
// bench/ours.ts splits them on (a module of its own: the entry's bundle needs
// nothing else of the bench).
export const WARM_MARK = '--- second export, same process ---';
