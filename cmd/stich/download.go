package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stichdev/stich/rpc"
)

// maxZipBytes bounds a download (apps are far smaller; this stops a
// misdirected --server from filling the disk).
const maxZipBytes = 512 << 20

func newDownloadCmd() *cobra.Command {
	var server, out, ver string
	cmd := &cobra.Command{
		Use:   "download SESSION",
		Short: "Download an app's files (or a version's) as a zip",
		Long: `Download the current files of a session, or those of --version N, as a zip whose
entries sit under one folder named after the app. Without -o the file is saved in the
current folder under the server's name for it (e.g. recipe-tracker-v2.zip); -o - writes
the zip to standard output.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{errors.New("download takes one SESSION id")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			u := strings.TrimRight(server, "/") + rpc.DownloadPath(url.PathEscape(args[0]))
			if ver != "" {
				n, err := parseVersion(ver)
				if err != nil {
					return err
				}
				u += fmt.Sprintf("?version=%d", n)
			}
			name, err := download(cmd.Context(), u, out, cmd.OutOrStdout())
			if err != nil {
				return err
			}
			if out != "-" {
				fmt.Fprintf(cmd.ErrOrStderr(), "Saved %s\n", name)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&server, "server", "http://127.0.0.1:8080", "URL of a running stich node")
	cmd.Flags().StringVar(&ver, "version", "", "download this version (see stich versions) instead of the current files")
	cmd.Flags().StringVarP(&out, "output", "o", "", "file to write (\"-\" for standard output); default: the server's file name, in the current folder")
	return cmd
}

// download GETs the zip at u and writes it to out (see the command's
// help). A file is written to a temporary name and renamed when complete,
// so a failed download leaves nothing behind.
func download(ctx context.Context, u, out string, stdout io.Writer) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", usageError{fmt.Errorf("--server: %w", err)}
	}
	resp, err := apiHTTP.Do(req)
	if err != nil {
		if strings.Contains(err.Error(), "connection refused") {
			return "", errors.New("cannot reach the server (connection refused): is `stich serve` running, and is --server right?")
		}
		return "", fmt.Errorf("download: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return "", fmt.Errorf("download: %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	body := io.LimitReader(resp.Body, maxZipBytes+1)
	if out == "-" {
		n, err := io.Copy(stdout, body)
		if err == nil && n > maxZipBytes {
			err = fmt.Errorf("download: larger than %d bytes", maxZipBytes)
		}
		return "", err
	}
	if out == "" {
		out = "app.zip"
		if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil && params["filename"] != "" {
			out = filepath.Base(filepath.Clean("/" + params["filename"]))
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".stich-download-*")
	if err != nil {
		return "", fmt.Errorf("download: %w", err)
	}
	defer os.Remove(tmp.Name())
	n, err := io.Copy(tmp, body)
	if err == nil && n > maxZipBytes {
		err = fmt.Errorf("larger than %d bytes", maxZipBytes)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), out)
	}
	if err != nil {
		return "", fmt.Errorf("download: %w", err)
	}
	return out, nil
}
