import { describe, expect, it } from 'vitest';
import { fromBase64, toBase64, toCommandError } from './client';
import { errorText, fieldOf } from './errors';

describe('errors', () => {
  it('picks the message for each kind and field', () => {
    expect(errorText({ kind: 'conflict', message: 'name in use', field: 'name' }).key).toBe('errors.nameTaken');
    expect(errorText({ kind: 'not_found', message: 'No such image: x', field: 'image' }, 'x')).toEqual({
      key: 'errors.imageNotFound',
      params: { message: 'No such image: x', subject: 'x' },
    });
    expect(errorText({ kind: 'not_found', message: 'No such container: y' }).key).toBe('errors.notFound');
    expect(errorText({ kind: 'engine', message: 'Bind for 0.0.0.0:8080 failed: port is already allocated' }).key).toBe('errors.portTaken');
    expect(errorText({ kind: 'unavailable', message: 'refused' }).key).toBe('errors.unavailable');
    expect(errorText({ kind: 'engine', message: 'boom' }).key).toBe('errors.engine');
  });

  it('puts an error next to its field, else next to the submit button', () => {
    const fields = ['image', 'name', 'ports'];
    expect(fieldOf({ kind: 'conflict', message: '', field: 'name' }, fields)).toBe('name');
    expect(fieldOf({ kind: 'not_found', message: '', field: 'image' }, fields)).toBe('image');
    expect(fieldOf({ kind: 'engine', message: 'port is already allocated' }, fields)).toBe('ports');
    expect(fieldOf({ kind: 'invalid', message: 'x', field: 'cpu' }, fields)).toBe('_form');
    expect(fieldOf({ kind: 'engine', message: 'boom' }, fields)).toBe('_form');
  });

  it('carries terminal bytes as base64 both ways, UTF-8 and binary alike', () => {
    const bytes = new Uint8Array([...new TextEncoder().encode('ñandú ✓\r\n'), 0, 255, 27]);
    expect(toBase64(new TextEncoder().encode('ls\r'))).toBe('bHMN');
    expect([...fromBase64(toBase64(bytes))]).toEqual([...bytes]);
    const big = new Uint8Array(100_000).map((_, i) => i % 256);
    expect(fromBase64(toBase64(big))).toEqual(big);
  });

  it('normalises what invoke rejects with', () => {
    expect(toCommandError({ kind: 'conflict', message: 'taken', field: 'name' })).toEqual({
      kind: 'conflict',
      message: 'taken',
      field: 'name',
    });
    expect(toCommandError({ kind: 'weird', message: 'x' })).toEqual({ kind: 'engine', message: 'x' });
    const once = toCommandError('Command stream_close not found');
    expect(toCommandError(once)).toEqual(once);
    expect(toCommandError('Command reset_engine_data not found')).toEqual({
      kind: 'unknown_command',
      message: 'Command reset_engine_data not found',
    });
    expect(toCommandError(new Error('plain'))).toEqual({ kind: 'engine', message: 'plain' });
  });
});
