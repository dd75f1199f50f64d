package rpc

import (
	"context"
	"errors"

	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
)

// validator checks every request against the protovalidate rules of its
// .proto definition and refuses invalid ones with InvalidArgument, naming
// each violated field.
type validator struct{ v protovalidate.Validator }

func newValidator() (*validator, error) {
	v, err := protovalidate.New()
	if err != nil {
		return nil, err
	}
	return &validator{v: v}, nil
}

func (v *validator) check(msg any) error {
	m, ok := msg.(proto.Message)
	if !ok {
		return nil
	}
	if err := v.v.Validate(m); err != nil {
		var ve *protovalidate.ValidationError
		if errors.As(err, &ve) {
			return connect.NewError(connect.CodeInvalidArgument, errors.New(describeViolations(ve)))
		}
		return connect.NewError(connect.CodeInvalidArgument, err)
	}
	return nil
}

func describeViolations(ve *protovalidate.ValidationError) string {
	msg := "invalid request:"
	for i, viol := range ve.Violations {
		if i > 0 {
			msg += ";"
		}
		field := protovalidate.FieldPathString(viol.Proto.GetField())
		text := viol.Proto.GetMessage()
		switch viol.Proto.GetRuleId() {
		case "string.pattern":
			text = "has an invalid format"
			if field == "prompt" || field == "text" || field == "title" {
				text = "must contain non-whitespace text"
			}
		}
		msg += " " + field + " " + text
	}
	return msg
}

func (v *validator) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if err := v.check(req.Any()); err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

func (v *validator) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (v *validator) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		return next(ctx, &validatingConn{StreamingHandlerConn: conn, v: v})
	}
}

type validatingConn struct {
	connect.StreamingHandlerConn
	v *validator
}

func (c *validatingConn) Receive(msg any) error {
	if err := c.StreamingHandlerConn.Receive(msg); err != nil {
		return err
	}
	return c.v.check(msg)
}
