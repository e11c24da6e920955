// The Disk usage view's logic (`docker system df` and the prunes), without Svelte.
import * as client from '../../lib/client';
import { formatBytes } from '../../lib/format';
import type { DiskTotals, DiskUsage, PruneReport } from '../../lib/types';

/** The four kinds, as the fields of `DiskUsage` name them, in `docker system df`'s order. */
export const DISK_KINDS = ['images', 'containers', 'volumes', 'buildCache'] as const;
export type DiskKind = (typeof DISK_KINDS)[number];

/** Kinds whose prune has the CLI's `-a` (images: every unused one; volumes: named ones too). */
export const HAS_ALL: ReadonlySet<DiskKind> = new Set<DiskKind>(['images', 'volumes']);

/** How many items the kind's list has (the build cache has no list). */
export function listLength(usage: DiskUsage, kind: DiskKind): number {
  switch (kind) {
    case 'images':
      return usage.imageList.length;
    case 'containers':
      return usage.containerList.length;
    case 'volumes':
      return usage.volumeList.length;
    case 'buildCache':
      return 0;
  }
}

/** RECLAIMABLE as the docker CLI prints it: "1.2 GB (45%)", the percentage rounded down. */
export function reclaimableText(totals: DiskTotals): string {
  const size = formatBytes(totals.reclaimable);
  if (totals.size <= 0) return size;
  return `${size} (${Math.floor((totals.reclaimable * 100) / totals.size)}%)`;
}

/** Whether a prune may free something: an unused item, or reclaimable bytes. */
export function canPrune(totals: DiskTotals): boolean {
  return totals.count > totals.active || totals.reclaimable > 0;
}

/** Runs the kind's prune (`all`: the CLI's `-a`, for images and volumes). */
export function prune(kind: DiskKind, all: boolean): Promise<PruneReport> {
  switch (kind) {
    case 'images':
      return client.diskPruneImages(all);
    case 'containers':
      return client.diskPruneContainers();
    case 'volumes':
      return client.diskPruneVolumes(all);
    case 'buildCache':
      return client.diskPruneBuildCache();
  }
}

/** The translation key and parameters of the message after a prune. */
export function prunedMessage(report: PruneReport): { key: string; params: { n: number; size: string } } {
  return {
    key: report.removed.length === 0 ? 'disk.prunedNothing' : 'disk.pruned',
    params: { n: report.removed.length, size: formatBytes(report.spaceReclaimed) },
  };
}
