// Types of js/node.js (Node only).
import type { Atento, Model } from './core.js';
export const defaultWasmPath: string;
export function initAtentoFromFile(path?: string, opts?: { threads?: number | 'auto'; threadedPath?: string }): Promise<Atento>;
export function loadModelFromFile(rt: Atento, path: string, opts?: { onProgress?: (loaded: number, total: number) => void; allowUnknownPretokenizer?: boolean }): Model;
