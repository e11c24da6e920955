import { describe, expect, it } from 'vitest';
import { actionsFor, bulkTargets, groupContainers, matchesQuery } from './group';
import type { ContainerItem } from './types';

const c = (name: string, project: string | null, state = 'running', image = 'busybox'): ContainerItem => ({
  id: `${name}-0123456789abcdef`,
  name,
  image,
  state,
  status: '',
  created: 0,
  ports: name === 'web' ? [{ ip: '0.0.0.0', privatePort: 80, publicPort: 8080, proto: 'tcp' }] : [],
  project,
  labels: {},
});

describe('group', () => {
  const items = [c('zeta', null), c('web', 'shop'), c('db', 'shop', 'exited', 'postgres'), c('alpha', null, 'exited'), c('api', 'blog')];

  it('groups by compose project, projects first and sorted, loose containers last', () => {
    const groups = groupContainers(items);
    expect(groups.map((g) => g.project)).toEqual(['blog', 'shop', null]);
    expect(groups[1].items.map((x) => x.name)).toEqual(['db', 'web']);
    expect(groups[1].running).toBe(1);
    expect(groups[2].items.map((x) => x.name)).toEqual(['alpha', 'zeta']);
  });

  it('searches name, image, project and ports; every word must match', () => {
    expect(groupContainers(items, 'postgres').flatMap((g) => g.items.map((x) => x.name))).toEqual(['db']);
    expect(groupContainers(items, 'SHOP').flatMap((g) => g.items.map((x) => x.name))).toEqual(['db', 'web']);
    expect(matchesQuery(items[1], '8080')).toBe(true);
    expect(matchesQuery(items[1], 'shop exited')).toBe(false);
    expect(groupContainers(items, 'nothing-like-this')).toEqual([]);
  });

  it('offers the actions that fit the state', () => {
    expect(actionsFor('running')).toEqual({ start: false, stop: true, restart: true, pause: true, unpause: false });
    expect(actionsFor('exited')).toMatchObject({ start: true, stop: false, pause: false });
    expect(actionsFor('paused')).toMatchObject({ unpause: true, stop: true, start: false });
  });

  it('applies bulk actions only where they make sense', () => {
    const sel = new Set(items.map((x) => x.id));
    expect(bulkTargets(items, sel, 'start')).toEqual([items[2].id, items[3].id]);
    expect(bulkTargets(items, new Set([items[0].id, items[2].id]), 'stop')).toEqual([items[0].id]);
    expect(bulkTargets(items, new Set([items[2].id]), 'remove')).toEqual([items[2].id]);
  });
});
