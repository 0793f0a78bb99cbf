// Loads every model file (each registers its functions) and gives the registry to the runtime.
import './arrays.js';
import './buffers.js';
import './descriptors.js';
import './promises.js';
import './querystring.js';
import './strings.js';
import './structured-clone.js';

export { collectsReturns, modelOf } from './registry.js';
export type { Call, Model, ModelHost } from './host.js';
