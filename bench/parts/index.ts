/** Every benchmark part, in the order `npm run bench` runs them. */
import type { BenchPart } from '../lib/context.js';
import { costPart } from './cost.js';

export const PARTS: BenchPart[] = [costPart];
