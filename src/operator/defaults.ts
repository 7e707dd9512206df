/**
 * The kinfer image predictors and job runners use when nothing else names one: the same image
 * config/manager deploys the operator with and the chart defaults to (its appVersion). The one
 * place this is spelled in the operator; `kinfer operator --image` overrides it.
 */
export const DEFAULT_IMAGE = 'ghcr.io/kinfer-dev/kinfer:0.1.0';
