import { memoryStore } from '../fakes/memory-store.ts';
import { runStoreConformance } from './store.case.ts';

runStoreConformance('memory fake', () => memoryStore());
