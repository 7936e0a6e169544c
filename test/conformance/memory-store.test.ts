import { MemoryStore } from '../../src/store/memory/memory-store.js';
import { describeAnalysisStoreConformance } from './analysis-store-conformance.js';
import { describeStoreConformance, type StoreUnderTest } from './store-conformance.js';

/** The memory store is one process: every "replica" is the same store. */
async function makeStore(): Promise<StoreUnderTest> {
  const store = new MemoryStore();
  return { store, replica: async () => store, cleanup: () => store.close() };
}

describeStoreConformance('memory', makeStore);
describeAnalysisStoreConformance('memory', makeStore);
