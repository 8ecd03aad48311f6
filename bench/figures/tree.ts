import type { Figure } from './types.ts';

export const treeFigure: Figure = async () => {
  throw new Error('not written yet');
};
