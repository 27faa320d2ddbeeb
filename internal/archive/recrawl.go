package archive

import (
	"context"
	"encoding/json"
	"errors"
	"hash/fnv"
	"slices"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// deleteBatchSize is how many message delete events of a re-crawl go in one batch.
const deleteBatchSize = 500

// deleteMailbox emits the delete event of a mailbox that left the scope and, once it was
// acknowledged, forgets the mailbox's checkpoint and ledger. It waits for the acknowledgement,
// so deletion_concurrency bounds the mailboxes being deleted at once.
func (in *archiveInput) deleteMailbox(ctx context.Context, p *passRun, mailbox string) {
	st, ok, err := in.store.loadMailbox(ctx, mailbox)
	if err != nil && !errors.Is(err, errUnusableCheckpoint) {
		if ctx.Err() == nil {
			in.metrics.checkpointErrors.Incr(1)
			in.log.Errorf("reading the checkpoint of %s (its delete event waits for the next crawl): %v", mailbox, err)
			p.incomplete.Store(true)
		}
		return
	}
	if !ok {
		st = mailboxState{Mailbox: mailbox}
	}
	done := make(chan struct{})
	p.acks.Add(1)
	ack := func(_ context.Context, err error) error {
		defer p.acks.Done()
		defer close(done)
		if err != nil {
			p.incomplete.Store(true)
			return nil
		}
		if err := in.store.forgetMailbox(context.Background(), st); err != nil {
			// The mailbox stays in the set, so the next crawl emits its delete again: a
			// checkpoint left behind would make a returning mailbox skip its old mail.
			in.metrics.checkpointErrors.Incr(1)
			in.log.Errorf("forgetting the checkpoint of %s: %v", mailbox, err)
			p.incomplete.Store(true)
			return err
		}
		p.forgetKnown(mailbox)
		in.metrics.deletes.Incr(1, "mailbox")
		p.deleted.Add(1)
		return nil
	}
	if err := in.queue.Send(ctx, service.MessageBatch{in.mailboxDeleteMessage(mailbox)}, ack); err != nil {
		p.acks.Done()
		return
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// finishRecrawl ends a re-crawl window: every id of the old ledger that the re-crawl did not
// emit gets a delete event; then the state moves to the new ledger and the old one is dropped.
// The comparison holds one 8-byte hash per message of the mailbox, never the ids themselves.
func (r *mailboxRun) finishRecrawl(ctx context.Context) bool {
	in := r.in
	found := map[uint64]struct{}{}
	add := func(seg map[string]int64) {
		for id := range seg {
			found[idHash(id)] = struct{}{}
		}
	}
	l := r.read.Ledger
	for k := range l.Segments {
		seg, err := r.segment(ctx, l.Gen, k)
		if err != nil {
			if ctx.Err() == nil {
				in.metrics.checkpointErrors.Incr(1)
				in.log.Errorf("%s: reading the re-crawl's ledger: %v", r.mailbox, err)
			}
			return false
		}
		add(seg)
	}
	add(l.Tail)

	old := *r.read.OldLedger
	var (
		batch   service.MessageBatch
		deleted int64
	)
	visit := func(seg map[string]int64) error {
		ids := make([]string, 0, len(seg))
		for id := range seg {
			if _, ok := found[idHash(id)]; !ok {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		for _, id := range ids {
			batch = append(batch, in.messageDeleteMessage(r.mailbox, id, seg[id]))
			deleted++
			if len(batch) >= deleteBatchSize {
				if err := r.send(ctx, batch, 0, nil); err != nil {
					return err
				}
				batch = nil
			}
		}
		return nil
	}
	for k := range old.Segments {
		seg, err := in.store.loadSegment(ctx, r.mailbox, old.Gen, k)
		if err != nil {
			if ctx.Err() != nil {
				return false
			}
			// A lost segment cannot be compared: its messages get no delete event (said
			// loudly) rather than the re-crawl never finishing.
			in.metrics.checkpointErrors.Incr(1)
			in.log.Errorf("%s: skipping a ledger segment in the deleted-message comparison: %v", r.mailbox, err)
			continue
		}
		if visit(seg) != nil {
			return false
		}
	}
	if visit(old.Tail) != nil {
		return false
	}
	in.metrics.deletes.Incr(deleted, "message")
	if deleted > 0 {
		in.log.Infof("%s: %d messages emitted before are no longer in the archive: emitting their delete events", r.mailbox, deleted)
	}

	st := &r.read
	st.Cursor, st.WindowFrom, st.WindowTo, st.Token = st.WindowTo, time.Time{}, time.Time{}, ""
	st.Recrawl, st.OldLedger = false, nil
	stale := ledgerRef{Gen: st.Ledger.Gen, Segments: r.staleSegs}
	commit := &mailboxCommit{state: st.clone(), after: func() {
		if err := in.store.dropSegments(context.Background(), r.mailbox, old); err != nil {
			in.log.Warnf("%s: dropping the previous ledger: %v", r.mailbox, err)
		}
		if err := in.store.dropSegmentsFrom(context.Background(), r.mailbox, stale, l.Segments); err != nil {
			in.log.Warnf("%s: dropping what an unfinished re-crawl left: %v", r.mailbox, err)
		}
		in.recrawlMu.Lock()
		in.recrawlDone[r.mailbox] = true
		in.recrawlMu.Unlock()
	}}
	return r.send(ctx, batch, 0, commit) == nil
}

func idHash(id string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(id))
	return h.Sum64()
}

// mailboxDeleteMessage is the delete event of a mailbox that left the scope: an output deletes
// every document of the mailbox (emails and attachments carry mimecast_mailbox).
func (in *archiveInput) mailboxDeleteMessage(mailbox string) *service.Message {
	body, _ := json.Marshal(map[string]string{"mailbox": mailbox, "operation": opDelete, "document": docMailbox})
	msg := service.NewMessage(body)
	msg.MetaSetMut(metaMailbox, mailbox)
	msg.MetaSetMut(metaOperation, opDelete)
	msg.MetaSetMut(metaDocument, docMailbox)
	return msg
}

// messageDeleteMessage is the delete event of a message a re-crawl no longer found: an output
// deletes the email's document and its attachments' (whose mimecast_parent_id is the id).
func (in *archiveInput) messageDeleteMessage(mailbox, id string, receivedMs int64) *service.Message {
	received := time.UnixMilli(receivedMs).UTC().Format(time.RFC3339)
	body, _ := json.Marshal(map[string]string{"id": id, "mailbox": mailbox, "operation": opDelete, "document": docEmail, "received": received})
	msg := service.NewMessage(body)
	msg.MetaSetMut(metaMailbox, mailbox)
	msg.MetaSetMut(metaMessageID, id)
	msg.MetaSetMut(metaOperation, opDelete)
	msg.MetaSetMut(metaDocument, docEmail)
	msg.MetaSetMut(metaReceived, received)
	return msg
}
