// Types of the desktop command contract (docs/desktop-contract.md). The shapes the Rust side sends
// or takes are generated from its types (./bindings, by src-tauri/src/bindings.rs): only what the
// UI adds or narrows is written here.
import type { CommandError as ShellCommandError, PortItem, RunRequest, Settings } from './bindings';

export type {
  BuildEvent,
  BuildRequest,
  ContainerItem,
  DeletedCount,
  DirListing,
  DiskContainer,
  DiskImage,
  DiskTotals,
  DiskUsage,
  DiskVolume,
  EngineState,
  EngineStatus,
  EntryKind,
  ErrorKind,
  FileEntry,
  FilePreview,
  ImageItem,
  LogLine,
  NetworkItem,
  PortItem,
  PortRequest,
  PruneReport,
  PruneResult,
  PullProgress,
  ResetResult,
  RunRequest,
  Settings,
  StatsSample,
  VmInfo,
  VmLog,
  VmPhase,
  VmPlatform,
  VmPort,
  VmProblem,
  VolumeItem,
} from './bindings';

/** What every command rejects with (after normalisation in client.ts, which adds `unknown_command`). */
export type CommandError = Omit<ShellCommandError, 'kind'> & { kind: ShellCommandError['kind'] | 'unknown_command' };

export type Proto = PortItem['proto'];
export type RestartPolicy = RunRequest['restartPolicy'];
export type Language = NonNullable<Settings['language']>;
export type Theme = Settings['theme'];

/** The actions `container_action` takes (it parses them from a string). */
export type ContainerAction = 'start' | 'stop' | 'restart' | 'pause' | 'unpause' | 'remove';

/** One Docker /events message as the engine sends it. */
export interface EngineEvent {
  Type: string;
  Action: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  time?: number;
}
