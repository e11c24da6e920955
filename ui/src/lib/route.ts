// Which view the main area shows. No URL routing: the app has one window and a sidebar.
import { writable } from 'svelte/store';

export type ViewId = 'containers' | 'container' | 'images' | 'volumes' | 'networks' | 'disk' | 'settings' | 'troubleshoot' | 'onboarding';

export interface Route {
  view: ViewId;
  /** Container id for the detail view. */
  id?: string;
}

export const route = writable<Route>({ view: 'containers' });

export const go = (view: ViewId, id?: string) => route.set(id ? { view, id } : { view });
