/** Every benchmark part, in the order `npm run bench` runs them. */
import type { BenchPart } from '../lib/context.js';
import { adoptionPart } from './adoption.js';
import { collectionPart } from './collection.js';
import { costPart } from './cost.js';
import { dropCostPart } from './drop-cost.js';
import { hotplugPart } from './hotplug.js';
import { lifecyclePart } from './lifecycle.js';
import { memoryPart } from './memory.js';
import { memoryPodsPart } from './memory-pods.js';
import { overviewPart } from './overview.js';
import { podLabelPart } from './pod-label.js';
import { scrapePart } from './scrape.js';
import { socketCostPart } from './socket-cost.js';
import { throughputPart } from './throughput.js';

export const PARTS: BenchPart[] = [
  costPart,
  socketCostPart,
  dropCostPart,
  throughputPart,
  collectionPart,
  scrapePart,
  hotplugPart,
  lifecyclePart,
  adoptionPart,
  memoryPart,
  memoryPodsPart,
  overviewPart,
  podLabelPart,
];
