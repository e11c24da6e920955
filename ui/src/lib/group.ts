// Containers grouped by compose project, filtered by a search query.
import type { ContainerItem } from './types';
import { formatPortItem } from './ports';

export interface ContainerGroup {
  /** Compose project name, or null for containers outside any project. */
  project: string | null;
  items: ContainerItem[];
  running: number;
}

/** Case-insensitive match on name, image, short id, project, state and ports; every word must match. */
export function matchesQuery(c: ContainerItem, query: string): boolean {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return true;
  const hay = [c.name, c.image, c.id.slice(0, 12), c.project ?? '', c.state, ...c.ports.map(formatPortItem)].join(' ').toLowerCase();
  return words.every((w) => hay.includes(w));
}

/** Projects first (by name), then the containers outside projects; inside a group, by name. */
export function groupContainers(items: ContainerItem[], query = ''): ContainerGroup[] {
  const byProject = new Map<string | null, ContainerItem[]>();
  for (const c of items) {
    if (!matchesQuery(c, query)) continue;
    const key = c.project || null;
    const list = byProject.get(key);
    if (list) list.push(c);
    else byProject.set(key, [c]);
  }
  const groups: ContainerGroup[] = [];
  for (const [project, list] of byProject) {
    list.sort((a, b) => a.name.localeCompare(b.name));
    groups.push({ project, items: list, running: list.filter((c) => c.state === 'running').length });
  }
  return groups.sort((a, b) => {
    if (a.project === null) return b.project === null ? 0 : 1;
    if (b.project === null) return -1;
    return a.project.localeCompare(b.project);
  });
}

/** Which row actions make sense in a state. */
export function actionsFor(state: string): { start: boolean; stop: boolean; restart: boolean; pause: boolean; unpause: boolean } {
  const running = state === 'running' || state === 'restarting';
  return {
    start: state === 'exited' || state === 'created' || state === 'dead',
    stop: running || state === 'paused',
    restart: running || state === 'exited',
    pause: state === 'running',
    unpause: state === 'paused',
  };
}

/** Bulk actions apply only to the selected containers they make sense for. */
export function bulkTargets(
  items: ContainerItem[],
  selected: Set<string>,
  action: 'start' | 'stop' | 'restart' | 'pause' | 'remove',
): string[] {
  return items
    .filter((c) => selected.has(c.id))
    .filter((c) => action === 'remove' || actionsFor(c.state)[action])
    .map((c) => c.id);
}
