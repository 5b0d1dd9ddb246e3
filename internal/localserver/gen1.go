package localserver

import (
	"net/http"
	"time"
)

// Generation 1 of the API: POST /activate-key, /deactivate-key and
// /get-key, answering in snake_case.

// timeFormat is how times appear in answers: RFC 3339 in UTC with
// milliseconds, like the real API's ISO-8601 timestamps.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

// The answers of generation 1.

type activateV1Answer struct {
	Code          int    `json:"code"`
	Message       string `json:"message"`
	LicenseeName  string `json:"licensee_name"`
	LicenseeEmail string `json:"licensee_email"`
}

type getKeyV1Answer struct {
	Code int          `json:"code"`
	Data getKeyV1Data `json:"data"`
}

type getKeyV1Data struct {
	License  licenseV1 `json:"license"`
	Customer *Customer `json:"customer"`
}

type licenseV1 struct {
	ID             string     `json:"id"`
	Key            string     `json:"key"`
	ProductID      string     `json:"product_id"`
	MaxActivations *int       `json:"max_activations"`
	Activations    int        `json:"activations"`
	Devices        []deviceV1 `json:"devices"`
	Activated      bool       `json:"activated"`
	ExpirationDate *string    `json:"expiration_date"`
}

type deviceV1 struct {
	HostID         string  `json:"host_id"`
	DeviceTag      *string `json:"device_tag"`
	IPAddress      string  `json:"ip_address"`
	ActivationTime string  `json:"activation_time"`
}

// activateKeyV1 answers POST /activate-key.
func (s *Server) activateKeyV1(r *http.Request) (any, error) {
	p, err := decodeKeyParams(r, activateFields)
	if err != nil {
		return nil, err
	}
	res, err := s.activate(p, clientIP(r))
	if err != nil {
		return nil, err
	}
	answer := activateV1Answer{Code: 0, Message: "License valid"}
	if c := res.Customer; c != nil {
		answer.LicenseeName, answer.LicenseeEmail = c.Name, c.Email
	}
	return answer, nil
}

// deactivateKeyV1 answers POST /deactivate-key. Unlike newer servers it
// does not report devicesRemoved.
func (s *Server) deactivateKeyV1(r *http.Request) (any, error) {
	p, err := decodeKeyParams(r, deactivateFields)
	if err != nil {
		return nil, err
	}
	res, err := s.deactivate(p)
	if err != nil {
		return nil, err
	}
	if res.All {
		return messageBody{Message: "All devices deactivated", Code: 0}, nil
	}
	return messageBody{Message: "Device deactivated", Code: 0}, nil
}

// getKeyV1 answers POST /get-key.
func (s *Server) getKeyV1(r *http.Request) (any, error) {
	p, err := decodeKeyParams(r, getKeyFields)
	if err != nil {
		return nil, err
	}
	v, err := s.license(p.ProductID, p.LicenseKey)
	if err != nil {
		return nil, err
	}
	devices := make([]deviceV1, len(v.Devices))
	for i, d := range v.Devices {
		devices[i] = deviceV1{
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
	return getKeyV1Answer{Code: 0, Data: getKeyV1Data{
		License: licenseV1{
			ID:             v.ID,
			Key:            v.Key,
			ProductID:      v.ProductID,
			MaxActivations: v.MaxActivations,
			Activations:    len(v.Devices),
			Devices:        devices,
			Activated:      !v.Blocked,
			ExpirationDate: expiration,
		},
		Customer: v.Customer,
	}}, nil
}

func formatTime(t time.Time) string {
	return t.UTC().Format(timeFormat)
}
