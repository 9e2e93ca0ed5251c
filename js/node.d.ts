// Types of js/node.js (Node only).
import type { Atento, Model } from './core.js';
export const defaultWasmPath: string;
export const defaultThreadedWasmPath: string;
/** The relaxed-SIMD twins (docs/simd.md): initAtentoFromFile's default where the engine has relaxed SIMD. */
export const defaultRelaxedWasmPath: string;
export const defaultThreadedRelaxedWasmPath: string;
export function initAtentoFromFile(path?: string, opts?: { threads?: number | 'auto'; threadedPath?: string; simd?: 'auto' | 'simd128' }): Promise<Atento>;
export function loadModelFromFile(rt: Atento, path: string, opts?: { onProgress?: (loaded: number, total: number) => void; allowUnknownPretokenizer?: boolean }): Model;
