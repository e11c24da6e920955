// The one place that talks to the Tauri side: a typed wrapper per command and event of the contract.
// Views and stores import from here; nothing else calls `invoke` or `listen`.
import { Channel, invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import type {
  BuildEvent,
  BuildRequest,
  CommandError,
  ContainerAction,
  ContainerItem,
  DeletedCount,
  DirListing,
  DiskUsage,
  EngineEvent,
  EngineStatus,
  FilePreview,
  ImageItem,
  LogLine,
  NetworkItem,
  PruneReport,
  PruneResult,
  PullProgress,
  ResetResult,
  RunRequest,
  Settings,
  StatsSample,
  VmInfo,
  VmLog,
  VmPlatform,
  VolumeItem,
} from './types';

const KINDS = ['engine', 'not_found', 'conflict', 'invalid', 'unavailable', 'unknown_command'];

/** Turns whatever `invoke` rejected with into a CommandError (a CommandError stays as it is). */
export function toCommandError(err: unknown): CommandError {
  if (err && typeof err === 'object' && 'kind' in err && 'message' in err) {
    const e = err as { kind: unknown; message: unknown; field?: unknown };
    const kind = KINDS.includes(String(e.kind)) ? (String(e.kind) as CommandError['kind']) : 'engine';
    const out: CommandError = { kind, message: String(e.message) };
    if (typeof e.field === 'string' && e.field) out.field = e.field;
    return out;
  }
  const message = err instanceof Error ? err.message : typeof err === 'string' ? err : JSON.stringify(err);
  // Tauri answers a command it does not know with "Command <name> not found".
  if (/command \S+ not found|unknown command/i.test(message)) return { kind: 'unknown_command', message };
  // Outside the Tauri shell (plain browser) there is no IPC at all: treat it as "engine unreachable".
  if (/__TAURI_INTERNALS__|ipc|transformCallback/i.test(message)) return { kind: 'unavailable', message };
  return { kind: 'engine', message };
}

/** Rejects with an "unavailable" CommandError when `p` takes longer than `ms`. */
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const h = setTimeout(() => reject({ kind: 'unavailable', message: `no answer after ${ms / 1000} s` }), ms);
    p.then(
      (v) => (clearTimeout(h), resolve(v)),
      (e) => (clearTimeout(h), reject(e)),
    );
  });
}

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (err) {
    throw toCommandError(err);
  }
}

/**
 * A channel that forwards messages to `onMessage` until `close()`. Closing also runs `onClose`,
 * which tells the shell to stop the engine stream behind the channel (`close_container_streams`,
 * `exec_close`): a Tauri channel cannot be closed from JavaScript.
 */
export interface Stream<T> {
  channel: Channel<T>;
  close(): void;
}

function stream<T>(onMessage: (m: T) => void, onClose: () => void = () => {}): Stream<T> {
  let open = true;
  const channel = new Channel<T>();
  channel.onmessage = (m) => {
    if (open) onMessage(m);
  };
  return {
    channel,
    close() {
      if (!open) return;
      open = false;
      onClose();
    },
  };
}

// Engine
export const engineStatus = () => call<EngineStatus>('engine_status');
export const engineStart = () => call<EngineStatus>('engine_start');
export const engineStop = () => call<EngineStatus>('engine_stop');
export const engineRestart = () => call<EngineStatus>('engine_restart');
/** Removes every container, volume, user network and image but the built-in welcome image. */
export const resetEngineData = () => call<ResetResult>('reset_engine_data');
/** The tail of the log of the engine this app started (empty when it found one running). */
export const engineLog = (lines: number) => call<string>('engine_log', { lines });

// Containers
/** A directory of a container, over the archive API (running or stopped containers). */
export const listContainerDir = (id: string, path: string) => call<DirListing>('list_container_dir', { id, path });
/** The start of a file of a container (text, or null for binary content). */
export const readContainerFile = (id: string, path: string) => call<FilePreview>('read_container_file', { id, path });
export const listContainers = () => call<ContainerItem[]>('list_containers');
export const containerAction = (id: string, action: ContainerAction) => call<void>('container_action', { id, action });
export const inspectContainer = (id: string) => call<unknown>('inspect_container', { id });

/** Ends the logs and stats streams the shell runs for a container (detail view closed). */
const closeContainerStreams = (id: string) => {
  call<void>('close_container_streams', { id }).catch(() => {});
};

export function containerLogs(
  id: string,
  opts: { tail: number | null; timestamps: boolean; follow: boolean },
  onLine: (l: LogLine) => void,
): { done: Promise<void>; close(): void } {
  const s = stream(onLine, () => closeContainerStreams(id));
  const done = call<void>('container_logs', { id, ...opts, onLine: s.channel });
  return { done, close: s.close };
}

export function containerStats(id: string, onStats: (s: StatsSample) => void): { done: Promise<void>; close(): void } {
  const s = stream(onStats, () => closeContainerStreams(id));
  const done = call<void>('container_stats', { id, onStats: s.channel });
  return { done, close: s.close };
}

export async function execStart(
  id: string,
  cols: number,
  rows: number,
  onOutput: (bytes: Uint8Array) => void,
): Promise<{ session: string; close(): void }> {
  let session = '';
  const s = stream<string>(
    (b64) => onOutput(fromBase64(b64)),
    () => {
      if (session) call<void>('exec_close', { session }).catch(() => {});
    },
  );
  session = await call<string>('exec_start', { id, cols, rows, onOutput: s.channel });
  return { session, close: s.close };
}
export const execInput = (session: string, data: Uint8Array) => call<void>('exec_input', { session, dataBase64: toBase64(data) });
export const execResize = (session: string, cols: number, rows: number) => call<void>('exec_resize', { session, cols, rows });

export const runContainer = (req: RunRequest) => call<string>('run_container', { req });

// Images
export const listImages = () => call<ImageItem[]>('list_images');
export function pullImage(reference: string, onProgress: (p: PullProgress) => void): Promise<void> {
  return call<void>('pull_image', { reference, onProgress: stream(onProgress).channel });
}
/** Builds an image from a folder; `onEvent` gets its steps as they run. Resolves to the image ID. */
export function buildImage(request: BuildRequest, onEvent: (e: BuildEvent) => void): Promise<string> {
  return call<string>('build_image', { request, onEvent: stream(onEvent).channel });
}
export const prepareBuildSample = (lang: string) => call<string>('prepare_build_sample', { lang });
export const removeImage = (id: string, force: boolean) => call<void>('remove_image', { id, force });
export const pruneImages = () => call<PruneResult>('prune_images');
export const inspectImage = (id: string) => call<unknown>('inspect_image', { id });
export const imageHistory = (id: string) => call<unknown[]>('image_history', { id });

// Volumes
export const listVolumes = () => call<VolumeItem[]>('list_volumes');
export const createVolume = (name: string | null) => call<VolumeItem>('create_volume', { name });
export const removeVolume = (name: string) => call<void>('remove_volume', { name });
export const pruneVolumes = () => call<DeletedCount>('prune_volumes');
export const inspectVolume = (name: string) => call<unknown>('inspect_volume', { name });

// Disk usage (`docker system df`) and the prunes of its view, which report what they removed.
export const diskUsage = () => call<DiskUsage>('disk_usage');
export const diskPruneContainers = () => call<PruneReport>('disk_prune_containers');
export const diskPruneImages = (all: boolean) => call<PruneReport>('disk_prune_images', { all });
export const diskPruneVolumes = (all: boolean) => call<PruneReport>('disk_prune_volumes', { all });
export const diskPruneBuildCache = () => call<PruneReport>('disk_prune_build_cache');

// Networks
export const listNetworks = () => call<NetworkItem[]>('list_networks');
export const createNetwork = (name: string, subnet: string | null, internal: boolean) =>
  call<NetworkItem>('create_network', { name, subnet, internal });
export const removeNetwork = (id: string) => call<void>('remove_network', { id });
export const pruneNetworks = () => call<DeletedCount>('prune_networks');
export const inspectNetwork = (id: string) => call<unknown>('inspect_network', { id });

// Settings
export const getSettings = () => call<Settings>('get_settings');
export const setSettings = (settings: Settings) => call<Settings>('set_settings', { settings });
export const systemLocale = () => call<string>('system_locale');

// The engine's VM (none when the engine runs natively)
export const vmInfo = () => call<VmInfo | null>('vm_info');
export const vmPlatform = () => call<VmPlatform>('vm_platform');
/** Stops the VM, deletes its disk and starts it fresh. */
export const vmReset = () => call<EngineStatus>('vm_reset');
export const vmLog = (which: VmLog, lines: number) => call<string>('vm_log', { which, lines });

// Events
export const onEngineStatus = (cb: (s: EngineStatus) => void): Promise<UnlistenFn> =>
  listen<EngineStatus>('engine-status', (e) => cb(e.payload));
export const onEngineEvent = (cb: (e: EngineEvent) => void): Promise<UnlistenFn> =>
  listen<EngineEvent>('engine-event', (e) => cb(e.payload));

/** Opens a URL in the user's browser (tauri-plugin-opener). */
export async function openUrl(url: string): Promise<void> {
  const { openUrl: open } = await import('@tauri-apps/plugin-opener');
  try {
    await open(url);
  } catch (err) {
    throw toCommandError(err);
  }
}

export function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export function fromBase64(b64: string): Uint8Array {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
