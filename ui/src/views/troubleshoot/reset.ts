import { writable } from 'svelte/store';

/** False once the shell answered that it has no reset command (remembered for the session). */
export const resetSupported = writable(true);
