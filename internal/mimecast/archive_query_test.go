package mimecast

import (
	"encoding/xml"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestArchiveQueryXMLIsWellFormedAndEscaped(t *testing.T) {
	q := ArchiveQuery{
		Mailboxes: []string{"alice@corp.example", `o'brien&co@corp.example`},
		From:      time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		To:        time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC),
		Text:      `subject: <invoice> & "payment"`,
		PageSize:  50,
		StartRow:  100,
	}.XML()

	var doc struct {
		Metadata struct {
			PageSize  string   `xml:"page-size,attr"`
			StartRow  string   `xml:"startrow,attr"`
			Mailboxes []string `xml:"mailboxes>mailbox"`
			Fields    []string `xml:"return-fields>return-field"`
		} `xml:"metadata"`
		Muse struct {
			Text string `xml:"text"`
			Date struct {
				Select string `xml:"select,attr"`
				From   string `xml:"from,attr"`
				To     string `xml:"to,attr"`
			} `xml:"date"`
		} `xml:"muse"`
	}
	require.NoError(t, xml.Unmarshal([]byte(q), &doc), q)
	assert.Equal(t, "50", doc.Metadata.PageSize)
	assert.Equal(t, "100", doc.Metadata.StartRow)
	assert.Equal(t, []string{"alice@corp.example", `o'brien&co@corp.example`}, doc.Metadata.Mailboxes)
	assert.Equal(t, DefaultArchiveReturnFields, doc.Metadata.Fields)
	assert.Equal(t, `subject: <invoice> & "payment"`, doc.Muse.Text)
	assert.Equal(t, "between", doc.Muse.Date.Select)
	assert.Equal(t, "2024-01-01T00:00:00+0000", doc.Muse.Date.From)
	assert.Equal(t, "2024-02-01T00:00:00+0000", doc.Muse.Date.To)
}

func TestArchiveQueryWithoutMailboxesOrDatesSearchesEverything(t *testing.T) {
	q := ArchiveQuery{}.XML()
	assert.NotContains(t, q, "<mailboxes>")
	assert.NotContains(t, q, "<date")
	assert.Contains(t, q, `page-size="25"`)
	assert.Contains(t, q, `startrow="0"`)
}
