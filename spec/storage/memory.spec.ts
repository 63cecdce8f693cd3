import { createMemoryStorage } from '../../storage/memory/index.js';
import { storageConformance } from './conformance.js';

storageConformance('memory', async () => createMemoryStorage());
