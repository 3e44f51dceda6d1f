/** A template function's error result: execution stops with "error calling NAME: message". */
export class FuncError extends Error {}
