// A coarse clock for relative times ("3 minutes ago"): ticks every 30 s, and only while
// something shows it. It re-renders text; it never asks the engine for anything.
import { readable } from 'svelte/store';

export const TICK_MS = 30_000;

export const now = readable(Date.now(), (set) => {
  const timer = setInterval(() => set(Date.now()), TICK_MS);
  return () => clearInterval(timer);
});
