"""The training job lifecycle (start, poll, store, evaluate once) and evaluation. Backends train; this
package keeps the record of it."""
