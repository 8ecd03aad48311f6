import type { Figure } from './types.ts';

export const stormFigure: Figure = async () => {
  throw new Error('not written yet');
};
