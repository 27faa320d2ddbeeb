// Package checkpoint is the Checkpoints part both Mimecast inputs share: a Store of small
// documents over a Benthos cache that survives a crash mid-write, and a Committer that saves a
// state only once every batch before it was acknowledged, whatever order the pipeline
// acknowledges batches in.
package checkpoint
