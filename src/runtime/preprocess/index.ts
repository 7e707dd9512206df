export { normalizeDigit, PIXELS, SIZE, toWhiteOnBlack } from './normalize.ts';
export { fromPixels } from './pixels.ts';
export { fromPng, MAX_PNG_PIXELS } from './png.ts';
export { defaultStrokeOptions, fromStrokes, type Point, type StrokeOptions } from './strokes.ts';
