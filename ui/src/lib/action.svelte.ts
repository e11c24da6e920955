// The busy flag and error of one user action (a button, a form), for components.
import type { CommandError } from './types';

export interface Action<A extends unknown[]> {
  readonly busy: boolean;
  readonly error: CommandError | null;
  /** Runs the action; true when it succeeded. The error stays until the next run or clear(). */
  run(...args: A): Promise<boolean>;
  clear(): void;
}

export function action<A extends unknown[]>(fn: (...args: A) => Promise<unknown>): Action<A> {
  let busy = $state(false);
  let error = $state<CommandError | null>(null);
  return {
    get busy() {
      return busy;
    },
    get error() {
      return error;
    },
    async run(...args: A) {
      busy = true;
      error = null;
      try {
        await fn(...args);
        return true;
      } catch (e) {
        error = e as CommandError;
        return false;
      } finally {
        busy = false;
      }
    },
    clear() {
      error = null;
    },
  };
}
