import { describe, expect, it } from 'vitest';
import { healthOf } from './labels';

describe('healthOf', () => {
  it('reads the health check status docker ps puts after the uptime', () => {
    expect(healthOf('Up 3 minutes (healthy)')).toBe('healthy');
    expect(healthOf('Up 2 seconds (health: starting)')).toBe('starting');
    expect(healthOf('Up About an hour (unhealthy)')).toBe('unhealthy');
  });
  it('is null without a health check, and for paused containers', () => {
    expect(healthOf('Up 3 minutes')).toBeNull();
    expect(healthOf('Up 3 minutes (Paused)')).toBeNull();
    expect(healthOf('Exited (0) 2 hours ago')).toBeNull();
  });
});
