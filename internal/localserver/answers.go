package localserver

import "time"

// The parts of the answers that both generations share. Each generation
// spells the field names its own way, so it has its own tagged types; the
// values are computed here once and converted (Go converts between struct
// types that differ only in their tags).

// timeFormat is how times appear in answers: RFC 3339 in UTC with
// milliseconds, like the real API's ISO-8601 timestamps.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

// messageLicenseValid is the message of a successful activation.
const messageLicenseValid = "License valid"

// licensee returns the name and e-mail address of the licensee of an
// activated key; both are empty when the key has no customer.
func (a activation) licensee() (name, email string) {
	if c := a.Customer; c != nil {
		return c.Name, c.Email
	}
	return "", ""
}

// message returns the message of a successful deactivation.
func (d deactivation) message() string {
	if d.All {
		return "All devices deactivated"
	}
	return "Device deactivated"
}

// licenseFields are the scalar fields of the license object of a get-key
// answer, in wire form but without names.
type licenseFields struct {
	ID             string
	Key            string
	ProductID      string
	MaxActivations *int // nil = unlimited (JSON null)
	Activations    int
	Activated      bool    // the key is enabled (not blocked), even without devices
	ExpirationDate *string // nil = never (JSON null)
}

// deviceFields are the fields of a device in a get-key answer, in wire
// form but without names.
type deviceFields struct {
	HostID         string
	DeviceTag      *string // nil = no tag (JSON null)
	IPAddress      string
	ActivationTime string
}

// getKeyAnswer is the answer of get-key in both generations: "code",
// "data", "license" and "customer" are spelt alike in both casings, and so
// are the fields of Customer. L is the generation's license object.
type getKeyAnswer[L any] struct {
	Code int           `json:"code"`
	Data getKeyData[L] `json:"data"`
}

// getKeyData is the data object of a get-key answer.
type getKeyData[L any] struct {
	License  L         `json:"license"`
	Customer *Customer `json:"customer"` // nil = no customer (JSON null)
}

// getKey answers a get-key request of either generation: license converts
// the fields of the license and its devices to the generation's types.
func getKey[L any](s *Server, p keyParams, license func(licenseFields, []deviceFields) L) (any, error) {
	v, err := s.license(p.ProductID, p.LicenseKey)
	if err != nil {
		return nil, err
	}
	devices := make([]deviceFields, len(v.Devices))
	for i, d := range v.Devices {
		devices[i] = deviceFields{
			HostID:         d.HostID,
			DeviceTag:      optionalString(d.DeviceTag),
			IPAddress:      d.IPAddress,
			ActivationTime: formatTime(d.ActivationTime),
		}
	}
	var expiration *string
	if v.ExpirationDate != nil {
		expiration = new(formatTime(*v.ExpirationDate))
	}
	fields := licenseFields{
		ID:             v.ID,
		Key:            v.Key,
		ProductID:      v.ProductID,
		MaxActivations: v.MaxActivations,
		Activations:    len(v.Devices),
		Activated:      !v.Blocked,
		ExpirationDate: expiration,
	}
	return getKeyAnswer[L]{Code: 0, Data: getKeyData[L]{License: license(fields, devices), Customer: v.Customer}}, nil
}

// convertAll converts every element of from with conv. The result is
// never nil, so that an empty list is [] in JSON.
func convertAll[From, To any](from []From, conv func(From) To) []To {
	to := make([]To, len(from))
	for i, f := range from {
		to[i] = conv(f)
	}
	return to
}

func formatTime(t time.Time) string {
	return t.UTC().Format(timeFormat)
}
