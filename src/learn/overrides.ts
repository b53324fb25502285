// A robot config made from a template and the learning run's overrides, in memory: relative paths keep resolving
// against the template's folder, and the result is validated like any robot config.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseConfigText, type LoadedConfig } from '../config/load.js';

/** Deep-merge plain objects (arrays and scalars replace). */
export function mergeConfig(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = v !== null && typeof v === 'object' && !Array.isArray(v) && b !== null && typeof b === 'object' && !Array.isArray(b)
      ? mergeConfig(b as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

/** The template with overrides, validated as a robot config; relative paths stay relative to the template. */
export function loadWithOverrides(template: string, overrides: Record<string, unknown>): LoadedConfig {
  const path = resolve(template);
  const raw = parseYaml(readFileSync(path, 'utf8')) as Record<string, unknown>;
  const config = parseConfigText(JSON.stringify(mergeConfig(raw, overrides)), `${template} (with the learning run's overrides)`);
  const base = dirname(path);
  return { config, path, resolvePath: (p: string) => resolve(base, p) };
}

