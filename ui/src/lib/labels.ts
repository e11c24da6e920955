// Locale keys chosen by value (checked against the locale files by the i18n test).
import type { EngineState } from './types';

export const ENGINE_STATE_KEYS: Record<EngineState, string> = {
  starting: 'engine.state.starting',
  running: 'engine.state.running',
  stopped: 'engine.state.stopped',
  error: 'engine.state.error',
};

export const CONTAINER_STATE_KEYS: Record<string, string> = {
  running: 'container.state.running',
  exited: 'container.state.exited',
  created: 'container.state.created',
  paused: 'container.state.paused',
  restarting: 'container.state.restarting',
  removing: 'container.state.removing',
  dead: 'container.state.dead',
};

export const HEALTH_KEYS: Record<string, string> = {
  starting: 'container.health.starting',
  healthy: 'container.health.healthy',
  unhealthy: 'container.health.unhealthy',
};

/** The health check's status in a `docker ps` status (`Up 3 minutes (healthy)`), if any. */
export const healthOf = (status: string): string | null => {
  const m = /\((health: starting|healthy|unhealthy)\)$/.exec(status);
  if (!m) return null;
  return m[1] === 'health: starting' ? 'starting' : m[1];
};

/** A container state in words; a state we have no word for is shown as the engine says it. */
export const containerStateLabel = (state: string, tr: (key: string) => string): string =>
  CONTAINER_STATE_KEYS[state] ? tr(CONTAINER_STATE_KEYS[state]) : state;
